// Tells every node that a cached entry is stale. On one node it only reaches local subscribers;
// with Redis (server/invalidationBus.ts) it reaches every node. Caches also expire on their own, so a
// lost message costs staleness for one TTL, never correctness of stored data.

export type InvalidationBus = {
  publish: (topic: string, key: string) => void;
  subscribe: (topic: string, handler: (key: string) => void) => void;
  // Runs when the bus comes back after an outage: messages published meanwhile were lost, so a
  // cache that must not serve stale entries (sessions, accounts) drops them all here.
  onRecovered: (handler: () => void) => void;
};

export function createLocalInvalidationBus(): InvalidationBus {
  const handlers = new Map<string, ((key: string) => void)[]>();
  return {
    publish: (topic, key) => {
      for (const h of handlers.get(topic) ?? []) h(key);
    },
    subscribe: (topic, handler) => {
      handlers.set(topic, [...(handlers.get(topic) ?? []), handler]);
    },
    // In process nothing is ever lost.
    onRecovered: () => undefined,
  };
}
