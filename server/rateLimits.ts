// Rate limiters: in memory on a single node, in Redis (shared by every node) when configured.
// With Redis, an in-memory limiter is the insurance: while Redis is unreachable, limits still hold
// per node instead of every request failing or waiting.
//
// Waiting is the failure to avoid: ioredis keeps commands in its offline queue while it reconnects,
// and releases them only when it reconnects or after several retries (seconds apart once its backoff
// has grown), so a limiter that asked Redis anyway held every request for that long. So the
// insurance takes over at once when the client is not `ready` (rejectIfRedisNotReady), and a
// command that was already on the wire when the connection died, or a Redis that accepts the
// connection but stops answering, costs at most REDIS_DECISION_TIMEOUT_MS (RLWrapperTimeouts).
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Limiter } from '../services/limiter.ts';

// A healthy Redis answers in well under a millisecond on a LAN; this only bounds a dead one, and
// keeps a request's worst case far below the 100 ms the platform promises while Redis is down.
// An answer that loses the race (an event-loop stall longer than this) is decided by the insurance,
// which errs towards allowing: a per-node count instead of the shared one, for that request only.
const REDIS_DECISION_TIMEOUT_MS = 50;

export function createLimiter(opts: { name: string; points: number; durationSeconds: number; redis?: Redis; keyPrefix?: string }): Limiter {
  const base = { keyPrefix: `${opts.keyPrefix ?? 'rp'}:rl:${opts.name}`, points: opts.points, duration: opts.durationSeconds };
  const limiter: RateLimiterAbstract = opts.redis
    ? new RLWrapperTimeouts({
      limiter: new RateLimiterRedis({ ...base, storeClient: opts.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) }),
      timeoutMs: REDIS_DECISION_TIMEOUT_MS,
    })
    : new RateLimiterMemory(base);
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
