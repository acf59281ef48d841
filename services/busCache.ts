// A per-node read-through cache whose entries every node drops when the bus announces a change.
// Reads on the hot path (every authenticated request) cost a Map lookup; a miss loads once however
// many requests wait for it. Entries are all dropped when the bus recovers from an outage (the
// invalidations sent meanwhile are lost), and the TTL bounds staleness until then.
import type { InvalidationBus } from './invalidation.ts';

export type BusCache<V> = {
  get: (key: string) => Promise<V>;
  // Drops the entry on every node (through the bus), this one included.
  invalidate: (key: string) => void;
  // Drops the entry on this node only (for a caller that heard of the change some other way).
  forget: (key: string) => void;
};

export function createBusCache<V>(deps: { bus: InvalidationBus; topic: string; ttlMs: number; maxEntries: number; load: (key: string) => Promise<V>; onForget?: (key: string) => void }): BusCache<V> {
  const entries = new Map<string, { value: V; expiresAt: number }>();
  const loading = new Map<string, Promise<V>>();
  // Keys invalidated while their load was running: that load must not store the stale value.
  const staleLoads = new Set<string>();

  const drop = (key: string) => {
    entries.delete(key);
    if (loading.has(key)) staleLoads.add(key);
    deps.onForget?.(key);
  };
  deps.bus.subscribe(deps.topic, drop);
  // Invalidations published while the bus was down never arrived: nothing cached before is trusted.
  deps.bus.onRecovered(() => {
    for (const key of [...entries.keys()]) drop(key);
  });

  async function load(key: string): Promise<V> {
    const value = await deps.load(key);
    if (!staleLoads.delete(key)) {
      if (entries.size >= deps.maxEntries) {
        const oldest = entries.keys().next().value!;
        entries.delete(oldest);
        deps.onForget?.(oldest);
      }
      entries.set(key, { value, expiresAt: Date.now() + deps.ttlMs });
    }
    return value;
  }

  return {
    get: async (key) => {
      const hit = entries.get(key);
      if (hit && hit.expiresAt > Date.now()) return hit.value;
      let pending = loading.get(key);
      if (!pending) {
        pending = load(key).finally(() => {
          loading.delete(key);
          staleLoads.delete(key);
        });
        loading.set(key, pending);
      }
      return pending;
    },
    invalidate: (key) => deps.bus.publish(deps.topic, key),
    forget: drop,
  };
}
