// The invalidation bus across nodes: Redis pub/sub on a connection of its own (a subscribed
// connection cannot run other commands). Local subscribers hear a publish at once; the copy that
// comes back from Redis runs them again, which is harmless because invalidation is idempotent.
import type { Redis } from 'ioredis';
import { createLocalInvalidationBus, type InvalidationBus } from '../services/invalidation.ts';
import type { Logger } from './logger.ts';

export function createRedisInvalidationBus(opts: { client: Redis; prefix: string; logger: Logger }): InvalidationBus & { close: () => Promise<void> } {
  const local = createLocalInvalidationBus();
  // Topics are subscribed once, as services are built. ioredis re-subscribes on reconnect only to
  // what Redis confirmed and drops a queued command after maxRetriesPerRequest, so a node that
  // started while Redis was down would never hear another node's invalidation. The subscribes
  // wait for the connection instead; nothing else runs on this one.
  const subscriber = opts.client.duplicate({ maxRetriesPerRequest: null });
  subscriber.on('error', (err) => opts.logger.warn({ err: err.message }, 'redis (invalidation bus) connection error'));
  const channelPrefix = `${opts.prefix}:invalidate:`;
  subscriber.on('message', (channel: string, key: string) => {
    if (channel.startsWith(channelPrefix)) local.publish(channel.slice(channelPrefix.length), key);
  });
  // ioredis emits ready on every (re)connect: the first is the start, the others end an outage.
  const recovered: (() => void)[] = [];
  let connectedBefore = false;
  subscriber.on('ready', () => {
    if (connectedBefore) {
      opts.logger.info('invalidation bus reconnected; caches that depend on it are cleared');
      for (const h of recovered) h();
    }
    connectedBefore = true;
  });
  return {
    publish: (topic, key) => {
      local.publish(topic, key);
      opts.client.publish(channelPrefix + topic, key).catch((err) => opts.logger.warn({ err: err.message, topic }, 'invalidation not published'));
    },
    subscribe: (topic, handler) => {
      local.subscribe(topic, handler);
      subscriber.subscribe(channelPrefix + topic).catch((err) => opts.logger.warn({ err: err.message, topic }, 'invalidation subscribe failed'));
    },
    onRecovered: (handler) => void recovered.push(handler),
    close: async () => {
      // QUIT would wait behind the queued subscribes while Redis is unreachable.
      if (subscriber.status === 'ready') await subscriber.quit().catch(() => undefined);
      else subscriber.disconnect();
    },
  };
}
