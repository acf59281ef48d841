// The coach's two answer caches.
//
// - Exact: the same user asking the same normalised question in the same scope within a few
//   minutes (a double tap, a retry after a dropped connection) gets the previous answer.
// - Semantic: a question whose embedding is close enough to an earlier answered one reuses that
//   answer, from any user — but only within the exact same scope: game, category, tag set, model,
//   prompt template version and knowledge-base version. Everything that shaped an answer is part of
//   the key, so a close question about another game, another category or older knowledge never
//   gets it (semantic caches that match on the question alone return wrong answers).
//
// Redis when configured, so every node shares the caches; an in-process LRU otherwise. Either way
// the candidates of one scope are few, and their cosine similarity is computed here.
//
// invalidateGame bumps a per-game generation; every entry records the generation it was written
// under and is ignored once it differs. Unlike deleting keys this needs no index of a game's keys,
// and a put racing an invalidation can only write an entry that is already stale.
import { cosineSimilarity } from '../../workers/vector.ts';
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnswerSource } from '../../entities/coach/CoachAnswer.ts';

export type CacheScope = { game: string; category: string | null; tags: string[]; model: string; templateVersion: string; kbVersion: number };
export type CachedAnswer = { answerId: string; text: string; sources: AnswerSource[]; model: string };
export type SemanticHit = CachedAnswer & { similarity: number };

export type AnswerCache = {
  getExact(userId: string, question: string, scope: CacheScope): Promise<CachedAnswer | null>;
  getSemantic(embedding: number[], scope: CacheScope): Promise<SemanticHit | null>;
  put(userId: string, question: string, embedding: number[], scope: CacheScope, answer: CachedAnswer): Promise<void>;
  invalidateGame(game: string): Promise<void>;
  readonly backend: 'redis' | 'memory';
  readonly threshold: number;
};

export type AnswerCacheOptions = {
  // Cosine similarity at or above which a cached answer is reused.
  threshold: number;
  exactTtlSeconds: number;
  semanticTtlSeconds: number;
  maxPerScope: number;
  // Keeps vectors of different embedding models apart; cosine across models means nothing.
  embeddingModel?: string;
  redis?: Redis;
  // The module's own Redis prefix (<REDIS_KEY_PREFIX>:coach); keys go under <keyPrefix>:cache.
  keyPrefix?: string;
  // Bounds of the in-process store.
  maxExactEntries?: number;
  maxScopes?: number;
  logger?: Logger;
  now?: () => number;
};

// What the exact cache compares: the same words however they were typed. NFKC folds full-width
// and compatibility forms (？ → ?, ｆｕｌｌ → full); trailing punctuation says nothing about the question.
export function normalizeQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/[\p{P}\p{S}\s]+$/u, '')
    .trim();
}

// Tags are a set: order and repeats do not change what was retrieved.
export function scopeKey(scope: CacheScope): string {
  const canonical = JSON.stringify([scope.game, scope.category, [...new Set(scope.tags)].sort(), scope.model, scope.templateVersion, scope.kbVersion]);
  return sha256(canonical);
}


type ExactEntry = { at: number; gen: number; answer: CachedAnswer };
type SemanticEntry = { at: number; gen: number; embedding: Float32Array; answer: CachedAnswer };

// The storage under the cache: keys in, entries out; freshness, generations and similarity are
// decided above it, the same way for both backends.
type Store = {
  getExact(game: string, key: string): Promise<{ gen: number; entry: ExactEntry | null }>;
  putExact(game: string, key: string, entry: Omit<ExactEntry, 'gen'>): Promise<void>;
  getSemantic(game: string, scope: string): Promise<{ gen: number; entries: SemanticEntry[] }>;
  putSemantic(game: string, scope: string, entry: Omit<SemanticEntry, 'gen'>): Promise<void>;
  bumpGeneration(game: string): Promise<void>;
};

export function createAnswerCache(opts: AnswerCacheOptions): AnswerCache {
  const now = opts.now ?? Date.now;
  const namespace = opts.embeddingModel ?? '';
  const store = opts.redis
    ? createRedisStore(opts.redis, `${opts.keyPrefix ?? 'rp:coach'}:cache`, opts)
    : createMemoryStore(opts);
  const exactKey = (userId: string, question: string, scope: CacheScope) => sha256(JSON.stringify([userId, normalizeQuestion(question), scopeKey(scope)]));
  const semanticKey = (scope: CacheScope) => sha256(`${namespace}\n${scopeKey(scope)}`);

  // A cache that cannot be read is a miss, not a failed ask: the answer can still be generated.
  async function orMiss<T>(what: string, work: () => Promise<T>, miss: T): Promise<T> {
    try {
      return await work();
    } catch (err) {
      opts.logger?.warn({ err: (err as Error).message, what }, 'coach answer cache unavailable');
      return miss;
    }
  }

  return {
    backend: opts.redis ? 'redis' : 'memory',
    threshold: opts.threshold,

    getExact: (userId, question, scope) =>
      orMiss('getExact', async () => {
        const { gen, entry } = await store.getExact(scope.game, exactKey(userId, question, scope));
        if (!entry || entry.gen !== gen || now() - entry.at >= opts.exactTtlSeconds * 1000) return null;
        return entry.answer;
      }, null),

    getSemantic: (embedding, scope) =>
      orMiss('getSemantic', async () => {
        const { gen, entries } = await store.getSemantic(scope.game, semanticKey(scope));
        const oldest = now() - opts.semanticTtlSeconds * 1000;
        let best: SemanticHit | null = null;
        for (const e of entries) {
          if (e.gen !== gen || e.at <= oldest) continue;
          const similarity = cosineSimilarity(embedding, e.embedding);
          if (similarity >= opts.threshold && (!best || similarity > best.similarity)) best = { ...e.answer, similarity };
        }
        return best;
      }, null),

    put: (userId, question, embedding, scope, answer) =>
      orMiss('put', async () => {
        const at = now();
        await Promise.all([
          store.putExact(scope.game, exactKey(userId, question, scope), { at, answer }),
          embedding.length > 0 ? store.putSemantic(scope.game, semanticKey(scope), { at, embedding: Float32Array.from(embedding), answer }) : undefined,
        ]);
      }, undefined),

    invalidateGame: (game) => store.bumpGeneration(game),
  };
}

function createMemoryStore(opts: AnswerCacheOptions): Store {
  const maxExact = opts.maxExactEntries ?? 10_000;
  const maxScopes = opts.maxScopes ?? 1_000;
  const generations = new Map<string, number>();
  const exact = new Map<string, ExactEntry & { game: string }>();
  const semantic = new Map<string, { game: string; entries: SemanticEntry[] }>();
  const gen = (game: string) => generations.get(game) ?? 0;

  // Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > max) map.delete(map.keys().next().value!);
  }

  return {
    async getExact(game, key) {
      const entry = exact.get(key);
      if (entry) touch(exact, key, entry, maxExact);
      return { gen: gen(game), entry: entry ?? null };
    },
    async putExact(game, key, entry) {
      touch(exact, key, { ...entry, gen: gen(game), game }, maxExact);
    },
    async getSemantic(game, scope) {
      const held = semantic.get(scope);
      if (held) touch(semantic, scope, held, maxScopes);
      return { gen: gen(game), entries: held?.entries ?? [] };
    },
    async putSemantic(game, scope, entry) {
      const entries = [{ ...entry, gen: gen(game) }, ...(semantic.get(scope)?.entries ?? [])].slice(0, opts.maxPerScope);
      touch(semantic, scope, { game, entries }, maxScopes);
    },
    async bumpGeneration(game) {
      generations.set(game, gen(game) + 1);
      // In one process the game's entries can go at once rather than wait for the LRU.
      for (const [key, held] of semantic) if (held.game === game) semantic.delete(key);
      for (const [key, e] of exact) if (e.game === game) exact.delete(key);
    },
  };
}

// Keys: <prefix>:gen:<game> (the game's generation, no TTL), <prefix>:exact:<hash> (JSON, EX the
// exact TTL), <prefix>:sem:<hash> (a list, newest first, trimmed to maxPerScope, EX the semantic
// TTL). A semantic element is binary: a uint32 length, that many bytes of JSON ({ at, gen, answer }),
// then the embedding as float32 — a quarter of the size of a JSON array, read without parsing.
function createRedisStore(redis: Redis, prefix: string, opts: AnswerCacheOptions): Store {
  const genKey = (game: string) => `${prefix}:gen:${encodeURIComponent(game)}`;
  const parseGen = (v: string | null | undefined) => (v ? Number(v) : 0);

  function encode(entry: SemanticEntry): Buffer {
    const header = Buffer.from(JSON.stringify({ at: entry.at, gen: entry.gen, answer: entry.answer }));
    const out = Buffer.allocUnsafe(4 + header.length + entry.embedding.byteLength);
    out.writeUInt32LE(header.length, 0);
    header.copy(out, 4);
    Buffer.from(entry.embedding.buffer, entry.embedding.byteOffset, entry.embedding.byteLength).copy(out, 4 + header.length);
    return out;
  }

  function decode(buf: Buffer): SemanticEntry | null {
    try {
      const length = buf.readUInt32LE(0);
      const header = JSON.parse(buf.subarray(4, 4 + length).toString('utf8')) as Omit<SemanticEntry, 'embedding'>;
      // Copied out: a Float32Array view needs 4-byte alignment that the header length does not give.
      const bytes = buf.subarray(4 + length);
      const embedding = new Float32Array(bytes.length / 4);
      Buffer.from(embedding.buffer).set(bytes);
      return { ...header, embedding };
    } catch {
      return null;
    }
  }

  async function currentGen(game: string): Promise<number> {
    return parseGen(await redis.get(genKey(game)));
  }

  return {
    async getExact(game, key) {
      const [g, raw] = await redis.mget(genKey(game), `${prefix}:exact:${key}`);
      return { gen: parseGen(g), entry: raw ? (JSON.parse(raw) as ExactEntry) : null };
    },
    async putExact(game, key, entry) {
      const value: ExactEntry = { ...entry, gen: await currentGen(game) };
      await redis.set(`${prefix}:exact:${key}`, JSON.stringify(value), 'EX', opts.exactTtlSeconds);
    },
    async getSemantic(game, scope) {
      const results = await redis.multi().get(genKey(game)).lrangeBuffer(`${prefix}:sem:${scope}`, 0, opts.maxPerScope - 1).exec();
      if (!results) throw new Error('redis transaction aborted');
      for (const [err] of results) if (err) throw err;
      const entries = ((results[1][1] as Buffer[] | null) ?? []).map(decode).filter((e): e is SemanticEntry => e !== null);
      return { gen: parseGen(results[0][1] as string | null), entries };
    },
    async putSemantic(game, scope, entry) {
      const key = `${prefix}:sem:${scope}`;
      const element = encode({ ...entry, gen: await currentGen(game) });
      const results = await redis.multi().lpush(key, element).ltrim(key, 0, opts.maxPerScope - 1).expire(key, opts.semanticTtlSeconds).exec();
      for (const [err] of results ?? []) if (err) throw err;
    },
    async bumpGeneration(game) {
      await redis.incr(genKey(game));
    },
  };
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
