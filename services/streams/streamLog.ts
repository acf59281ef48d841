// Where a resumable stream is kept while it is young: its text (an offset log: one string, appended
// in order), its final state, whose it is, and the generating node's lease. With Redis every node
// reads what the generating node wrote; without it (one node) it is kept in process. Entries expire
// after `ttlSeconds`; the module's own row is where a late reader finds a finished stream.
import type { Redis } from 'ioredis';

export type StreamFinal = { state: 'done' | 'failed'; payload: unknown };

export type StreamStatus = {
  userId: string | null;
  final: StreamFinal | null;
  // Whether the generating node still holds its lease (renewed every few seconds while it runs).
  ownerAlive: boolean;
};

export type StreamLog = {
  start: (id: string, userId: string, owner: string, leaseMs: number) => Promise<void>;
  // Renews (or re-creates, after a Redis blip) the leases of the streams this node is generating.
  renew: (ids: string[], owner: string, leaseMs: number) => Promise<void>;
  // Fire-and-forget but ordered: the text of one stream is appended in the order given.
  append: (id: string, text: string) => void;
  // Records the final state unless one is already recorded: true when this call closed the stream.
  // This is the one arbiter between the generating node finishing and another node declaring it lost.
  close: (id: string, final: StreamFinal, userId?: string) => Promise<boolean>;
  status: (id: string) => Promise<StreamStatus | null>;
  // The text from `offset` on, with the status; null when the log no longer (or never) held it.
  read: (id: string, offset: number) => Promise<(StreamStatus & { text: string }) | null>;
};

export function createMemoryStreamLog(opts: { ttlSeconds: number }): StreamLog {
  type Entry = { chunks: string[]; userId: string | null; final: StreamFinal | null; leaseUntil: number; timer?: NodeJS.Timeout };
  const streams = new Map<string, Entry>();
  const entry = (id: string) => {
    let e = streams.get(id);
    if (!e) streams.set(id, (e = { chunks: [], userId: null, final: null, leaseUntil: 0 }));
    return e;
  };
  // Expiry counts from the last write, as Redis' EXPIRE does.
  const touch = (id: string, e: Entry) => {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => streams.delete(id), opts.ttlSeconds * 1000);
    e.timer.unref();
  };
  const statusOf = (e: Entry): StreamStatus => ({ userId: e.userId, final: e.final, ownerAlive: e.leaseUntil > Date.now() });
  return {
    start: async (id, userId, _owner, leaseMs) => {
      const e = entry(id);
      e.userId = userId;
      e.leaseUntil = Date.now() + leaseMs;
      touch(id, e);
    },
    renew: async (ids, _owner, leaseMs) => {
      for (const id of ids) {
        const e = streams.get(id);
        if (e) e.leaseUntil = Date.now() + leaseMs;
      }
    },
    append: (id, text) => {
      const e = entry(id);
      e.chunks.push(text);
      touch(id, e);
    },
    close: async (id, final, userId) => {
      const e = entry(id);
      if (e.final) return false;
      e.final = final;
      e.userId ??= userId ?? null;
      e.leaseUntil = 0;
      touch(id, e);
      return true;
    },
    status: async (id) => {
      const e = streams.get(id);
      return e ? statusOf(e) : null;
    },
    read: async (id, offset) => {
      const e = streams.get(id);
      if (!e) return null;
      if (e.chunks.length > 1) e.chunks = [e.chunks.join('')];
      return { ...statusOf(e), text: (e.chunks[0] ?? '').slice(offset) };
    },
  };
}

export function createRedisStreamLog(opts: { redis: Redis; prefix: string; ttlSeconds: number }): StreamLog {
  const key = (id: string, part: 'text' | 'final' | 'user' | 'owner') => `${opts.prefix}:${id}:${part}`;
  const ttl = opts.ttlSeconds;
  const parse = (final: string | null) => (final ? (JSON.parse(final) as StreamFinal) : null);
  // APPEND keeps the text as one string, so a read from any offset is one GET (offsets count UTF-16
  // units, as the client's string length does, so they are applied after decoding, not by GETRANGE).
  // Commands on one ioredis connection run in order, so unawaited appends stay ordered.
  return {
    start: async (id, userId, owner, leaseMs) => {
      await opts.redis.multi().set(key(id, 'user'), userId, 'EX', ttl).set(key(id, 'owner'), owner, 'PX', leaseMs).exec();
    },
    renew: async (ids, owner, leaseMs) => {
      if (ids.length === 0) return;
      const batch = opts.redis.pipeline();
      for (const id of ids) batch.set(key(id, 'owner'), owner, 'PX', leaseMs);
      await batch.exec();
    },
    append: (id, text) => {
      opts.redis.multi().append(key(id, 'text'), text).expire(key(id, 'text'), ttl).exec().catch(() => undefined);
    },
    close: async (id, final, userId) => {
      const batch = opts.redis.multi().set(key(id, 'final'), JSON.stringify(final), 'EX', ttl, 'NX').expire(key(id, 'text'), ttl).del(key(id, 'owner'));
      if (userId) batch.set(key(id, 'user'), userId, 'EX', ttl, 'NX');
      const results = await batch.exec();
      const [err, reply] = results?.[0] ?? [new Error('stream close: no reply')];
      if (err) throw err;
      return reply === 'OK';
    },
    status: async (id) => {
      const [[, userId], [, final], [, owner]] = (await opts.redis
        .multi().get(key(id, 'user')).get(key(id, 'final')).exists(key(id, 'owner')).exec()) as [unknown, string | number | null][];
      if (userId === null && final === null && !owner) return null;
      return { userId: userId as string | null, final: parse(final as string | null), ownerAlive: owner === 1 };
    },
    read: async (id, offset) => {
      const [[, userId], [, final], [, owner], [, text]] = (await opts.redis
        .multi().get(key(id, 'user')).get(key(id, 'final')).exists(key(id, 'owner')).get(key(id, 'text')).exec()) as [unknown, string | number | null][];
      if (userId === null && final === null && !owner && text === null) return null;
      const all = (text as string | null) ?? '';
      return { userId: userId as string | null, final: parse(final as string | null), ownerAlive: owner === 1, text: all.slice(offset) };
    },
  };
}
