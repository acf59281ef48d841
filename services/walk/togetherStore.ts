// Where walking-together state that changes every second lives: each walker's last relayed position
// per session, when each joined walker was last heard from, and the 1 Hz limit. With Redis every
// node reads and writes the same keys (a walker reconnecting to any node gets the others' last
// positions; any node's sweep finds a walker gone quiet); without it, one node keeps them in memory.
// Postgres stays the truth for who is in which session; losing this loses positions, never members.
//
// One position is one Redis round trip: a script checks the limit, stores the position and marks
// the walker seen, atomically. The service waits for it before relaying only when it must (see
// together.ts: the first position on a node, and a walker sending through two nodes).
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RelayedPosition } from './schemas.ts';

// shared: another node accepted a position of this walker within the last few seconds (two devices,
// or a reconnect to another node): the caller then checks with the store before relaying.
export type AcceptResult = { ok: true; wasSilent: boolean; shared: boolean } | { ok: false; retryAfterMs: number; shared: boolean };

export type TogetherStore = {
  // The 1 Hz limit (per user, every node): a generic cell rate, one position per `intervalMs` with
  // `toleranceMs` of jitter; when allowed, stores `relay` as the walker's last position in the session
  // and marks them seen. wasSilent: they were not marked seen (never joined here, or swept as stale).
  accept: (relay: RelayedPosition, nowMs: number, nodeId: string) => Promise<AcceptResult>;
  // Marks the walker seen now (a join); true when they were not (new, or back after being stale).
  touch: (sessionId: string, userId: string, nowMs: number) => Promise<boolean>;
  // The walker left: no longer watched for silence; their last position stays for the others.
  forget: (sessionId: string, userId: string) => Promise<void>;
  lastPositions: (sessionId: string) => Promise<RelayedPosition[]>;
  // When each of these walkers was last seen (null: not watched, i.e. stale, left or never joined).
  lastSeen: (sessionId: string, userIds: string[]) => Promise<Map<string, number | null>>;
  // Walkers silent since before `cutoffMs`, each returned to exactly one caller across every node
  // (they are no longer watched once claimed: the next position or join marks them seen again).
  claimSilent: (cutoffMs: number, limit: number) => Promise<{ sessionId: string; userId: string }[]>;
  dropSession: (sessionId: string, userIds: string[]) => Promise<void>;
};

export type StoreLimits = { intervalMs: number; toleranceMs: number; positionsTtlMs: number };

const member = (sessionId: string, userId: string) => `${sessionId}|${userId}`;
const unmember = (m: string) => {
  const [sessionId, userId] = m.split('|');
  return { sessionId, userId };
};

export function createMemoryTogetherStore(limits: StoreLimits): TogetherStore {
  const cells = new Map<string, number>(); // userId → theoretical arrival time
  const positions = new Map<string, Map<string, RelayedPosition>>();
  const seen = new Map<string, number>(); // member → last seen
  const touch = (sessionId: string, userId: string, nowMs: number) => {
    const m = member(sessionId, userId);
    const was = seen.has(m);
    seen.set(m, nowMs);
    return !was;
  };
  return {
    accept: async (relay, nowMs) => {
      const tat = cells.get(relay.userId) ?? 0;
      if (tat - nowMs > limits.toleranceMs) return { ok: false, retryAfterMs: tat - limits.toleranceMs - nowMs, shared: false };
      cells.set(relay.userId, Math.max(tat, nowMs) + limits.intervalMs);
      let session = positions.get(relay.sessionId);
      if (!session) positions.set(relay.sessionId, (session = new Map()));
      session.set(relay.userId, relay);
      return { ok: true, wasSilent: touch(relay.sessionId, relay.userId, nowMs), shared: false };
    },
    touch: async (sessionId, userId, nowMs) => touch(sessionId, userId, nowMs),
    forget: async (sessionId, userId) => void seen.delete(member(sessionId, userId)),
    lastPositions: async (sessionId) => [...(positions.get(sessionId)?.values() ?? [])],
    lastSeen: async (sessionId, userIds) => new Map(userIds.map((u) => [u, seen.get(member(sessionId, u)) ?? null])),
    claimSilent: async (cutoffMs, limit) => {
      const out: { sessionId: string; userId: string }[] = [];
      for (const [m, at] of seen) {
        if (out.length >= limit) break;
        if (at > cutoffMs) continue;
        seen.delete(m);
        out.push(unmember(m));
      }
      // Limit cells long past their time hold nothing: a new walker starts from zero anyway.
      for (const [userId, tat] of cells) if (tat < cutoffMs) cells.delete(userId);
      return out;
    },
    dropSession: async (sessionId, userIds) => {
      positions.delete(sessionId);
      for (const u of userIds) seen.delete(member(sessionId, u));
    },
  };
}

// KEYS: the user's limit cell ("<theoretical arrival time>|<node>"), the session's positions hash,
// the seen set. ARGV: now, interval, tolerance, userId, position JSON, positions TTL, seen member, node.
const ACCEPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat, owner = 0, ''
local cell = redis.call('GET', KEYS[1])
if cell then
  local sep = string.find(cell, '|', 1, true)
  tat = tonumber(string.sub(cell, 1, sep - 1))
  owner = string.sub(cell, sep + 1)
end
local shared = 0
if owner ~= '' and owner ~= ARGV[8] and tat > now - interval * 4 then shared = 1 end
if tat - now > tolerance then return {0, tat - tolerance - now, shared} end
if tat < now then tat = now end
redis.call('SET', KEYS[1], string.format('%d', tat + interval) .. '|' .. ARGV[8], 'PX', interval * 5)
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local added = redis.call('ZADD', KEYS[3], ARGV[1], ARGV[7])
return {1, added, shared}
`;

// KEYS: the seen set. ARGV: cutoff, limit. Taking and removing in one script is what gives each
// silent walker to one node only, and never one whose position arrived in between.
const CLAIM = `
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #members > 0 then redis.call('ZREM', KEYS[1], unpack(members)) end
return members
`;

// `fallback` serves while the Redis client is not ready, so a Redis outage degrades to per-node
// state at once instead of holding every position in ioredis' offline queue.
export function createRedisTogetherStore(opts: { redis: Redis; keyPrefix: string; limits: StoreLimits; fallback: TogetherStore }): TogetherStore {
  const { redis, keyPrefix, limits } = opts;
  const seenKey = `${keyPrefix}:together:seen`;
  const positionsKey = (sessionId: string) => `${keyPrefix}:together:pos:${sessionId}`;
  const cellKey = (userId: string) => `${keyPrefix}:together:rate:${userId}`;
  const ready = () => redis.status === 'ready';
  const script = (source: string) => {
    const sha = crypto.createHash('sha1').update(source).digest('hex');
    return async (keys: string[], args: (string | number)[]): Promise<unknown> => {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    };
  };
  const accept = script(ACCEPT);
  const claim = script(CLAIM);
  return {
    accept: async (relay, nowMs, nodeId) => {
      if (!ready()) return opts.fallback.accept(relay, nowMs, nodeId);
      const [ok, n, shared] = (await accept(
        [cellKey(relay.userId), positionsKey(relay.sessionId), seenKey],
        [nowMs, limits.intervalMs, limits.toleranceMs, relay.userId, JSON.stringify(relay), limits.positionsTtlMs, member(relay.sessionId, relay.userId), nodeId],
      )) as [number, number, number];
      return ok === 1 ? { ok: true, wasSilent: n === 1, shared: shared === 1 } : { ok: false, retryAfterMs: n, shared: shared === 1 };
    },
    touch: async (sessionId, userId, nowMs) => {
      if (!ready()) return opts.fallback.touch(sessionId, userId, nowMs);
      return (await redis.zadd(seenKey, nowMs, member(sessionId, userId))) === 1;
    },
    forget: async (sessionId, userId) => {
      if (!ready()) return opts.fallback.forget(sessionId, userId);
      await redis.zrem(seenKey, member(sessionId, userId));
    },
    lastPositions: async (sessionId) => {
      if (!ready()) return opts.fallback.lastPositions(sessionId);
      const all = await redis.hvals(positionsKey(sessionId));
      return all.map((v) => JSON.parse(v) as RelayedPosition);
    },
    lastSeen: async (sessionId, userIds) => {
      if (!ready()) return opts.fallback.lastSeen(sessionId, userIds);
      if (userIds.length === 0) return new Map();
      const scores = await redis.zmscore(seenKey, ...userIds.map((u) => member(sessionId, u)));
      return new Map(userIds.map((u, i) => [u, scores[i] === null ? null : Number(scores[i])]));
    },
    claimSilent: async (cutoffMs, limit) => {
      if (!ready()) return opts.fallback.claimSilent(cutoffMs, limit);
      const members = (await claim([seenKey], [cutoffMs, limit])) as string[];
      return members.map(unmember);
    },
    dropSession: async (sessionId, userIds) => {
      if (!ready()) return opts.fallback.dropSession(sessionId, userIds);
      const pipe = redis.multi().del(positionsKey(sessionId));
      if (userIds.length) pipe.zrem(seenKey, ...userIds.map((u) => member(sessionId, u)));
      await pipe.exec();
    },
  };
}
