// The invalidation bus across nodes: Redis pub/sub on a connection of its own (a subscribed
// connection cannot run other commands). Local subscribers hear a publish at once; the copy that
// comes back from Redis runs them again, which is harmless because invalidation is idempotent.
import type { Redis } from 'ioredis';
import { createLocalInvalidationBus, type InvalidationBus } from '../services/invalidation.ts';
import type { Logger } from './logger.ts';

export function createRedisInvalidationBus(opts: { client: Redis; prefix: string; logger: Logger }): InvalidationBus & { close: () => Promise<void> } {
  const local = createLocalInvalidationBus();
  const subscriber = opts.client.duplicate();
  subscriber.on('error', (err) => opts.logger.warn({ err: err.message }, 'redis (invalidation bus) connection error'));
  const channelPrefix = `${opts.prefix}:invalidate:`;
  subscriber.on('message', (channel: string, key: string) => {
    if (channel.startsWith(channelPrefix)) local.publish(channel.slice(channelPrefix.length), key);
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
    close: async () => {
      await subscriber.quit().catch(() => undefined);
    },
  };
}
