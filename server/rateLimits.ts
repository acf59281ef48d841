// Rate limiters: in memory on a single node, in Redis (shared by every node) when configured.
// With Redis, an in-memory limiter is the insurance: if Redis is down, limits still hold per node
// instead of every request failing.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Limiter } from '../services/limiter.ts';

export function createLimiter(opts: { name: string; points: number; durationSeconds: number; redis?: Redis; keyPrefix?: string }): Limiter {
  const base = { keyPrefix: `${opts.keyPrefix ?? 'rp'}:rl:${opts.name}`, points: opts.points, duration: opts.durationSeconds };
  const memory = new RateLimiterMemory(base);
  const limiter: RateLimiterAbstract = opts.redis
    ? new RateLimiterRedis({ ...base, storeClient: opts.redis, insuranceLimiter: new RateLimiterMemory(base) })
    : memory;
  return {
    consume: async (key, points = 1) => {
      try {
        await limiter.consume(key, points);
        return null;
      } catch (res) {
        if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        throw res;
      }
    },
  };
}
