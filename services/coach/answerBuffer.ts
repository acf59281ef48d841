// Where an answer being generated is kept, delta by delta with its offset, so that a client that
// reconnects — to this node or another — can ask for the rest. With Redis every node reads what
// the generating node wrote; without it (one node) the buffer is in process. Entries expire: a
// finished answer is also in Postgres, which is where a late resume finds it.
import type { Redis } from 'ioredis';
import type { AnswerDone, AnswerFailure } from './schemas.ts';

export type BufferedAnswer = { text: string; nextOffset: number; done: AnswerDone | null; failure: AnswerFailure | null };

export type AnswerBuffer = {
  // Fire-and-forget but ordered: deltas of one answer are appended in the order given.
  append: (answerId: string, text: string) => void;
  finish: (answerId: string, done: AnswerDone) => Promise<void>;
  fail: (answerId: string, failure: AnswerFailure) => Promise<void>;
  // The text from `offset` on, or null when the buffer no longer (or never) held this answer.
  read: (answerId: string, offset: number) => Promise<BufferedAnswer | null>;
};

export function createMemoryAnswerBuffer(opts: { ttlMs: number }): AnswerBuffer {
  const answers = new Map<string, { chunks: string[]; done: AnswerDone | null; failure: AnswerFailure | null; timer?: NodeJS.Timeout }>();
  const entry = (id: string) => {
    let e = answers.get(id);
    if (!e) answers.set(id, (e = { chunks: [], done: null, failure: null }));
    return e;
  };
  const expire = (id: string) => {
    const e = answers.get(id);
    if (!e) return;
    clearTimeout(e.timer);
    e.timer = setTimeout(() => answers.delete(id), opts.ttlMs);
    e.timer.unref();
  };
  return {
    append: (id, text) => void entry(id).chunks.push(text),
    finish: async (id, done) => {
      entry(id).done = done;
      expire(id);
    },
    fail: async (id, failure) => {
      entry(id).failure = failure;
      expire(id);
    },
    read: async (id, offset) => {
      const e = answers.get(id);
      if (!e) return null;
      const text = e.chunks.join('');
      return { text: text.slice(offset), nextOffset: text.length, done: e.done, failure: e.failure };
    },
  };
}

export function createRedisAnswerBuffer(opts: { redis: Redis; prefix: string; ttlSeconds: number }): AnswerBuffer {
  const key = (id: string, part: 'text' | 'done' | 'failure') => `${opts.prefix}:answer:${id}:${part}`;
  // APPEND keeps the text as one string, so a read from any offset is one GETRANGE-free GET.
  // Commands on one ioredis connection run in order, so unawaited appends stay ordered.
  return {
    append: (id, text) => {
      opts.redis.multi().append(key(id, 'text'), text).expire(key(id, 'text'), opts.ttlSeconds).exec().catch(() => undefined);
    },
    finish: async (id, done) => {
      await opts.redis.multi().set(key(id, 'done'), JSON.stringify(done), 'EX', opts.ttlSeconds).expire(key(id, 'text'), opts.ttlSeconds).exec();
    },
    fail: async (id, failure) => {
      await opts.redis.set(key(id, 'failure'), JSON.stringify(failure), 'EX', opts.ttlSeconds);
    },
    read: async (id, offset) => {
      const [text, done, failure] = await opts.redis.mget(key(id, 'text'), key(id, 'done'), key(id, 'failure'));
      if (text === null && done === null && failure === null) return null;
      const all = text ?? '';
      return { text: all.slice(offset), nextOffset: all.length, done: done ? JSON.parse(done) : null, failure: failure ? JSON.parse(failure) : null };
    },
  };
}
