import crypto from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { hashedNgramEmbedding } from '../../integrations/llm/offline.ts';
import { createAnswerCache, normalizeQuestion, type AnswerCacheOptions, type CacheScope, type CachedAnswer } from '../../services/coach/answerCache.ts';
import { redisUrl } from '../helpers.ts';
import { testState } from '../state.ts';

const scope: CacheScope = { game: 'stardew', category: 'farming', tags: ['spring', 'crops'], model: 'gpt-4o-mini', templateVersion: 'stardew@3f2a', kbVersion: 4 };

// Unit vectors in a 3-d plane at a chosen cosine to `base`.
const base = [1, 0, 0];
const at = (similarity: number) => [similarity, Math.sqrt(1 - similarity * similarity), 0];

function answer(text = 'Plant parsnips first.'): CachedAnswer {
  return { answerId: crypto.randomUUID(), text, sources: [{ chunkId: 'c1', documentId: 'd1', title: 'Spring crops', score: 0.8, url: null }], model: scope.model };
}

describe('coach: answer cache', () => {
  it('normalises questions: spacing, width, case and trailing punctuation', () => {
    expect(normalizeQuestion('  How do I   beat\tthe FIRST boss？?! ')).to.equal('how do i beat the first boss');
    expect(normalizeQuestion('ＨＯＷ　ｄｏ　Ｉ')).to.equal('how do i');
    expect(normalizeQuestion('첫 번째 보스를  어떻게 이기나요?')).to.equal('첫 번째 보스를 어떻게 이기나요');
    // Punctuation inside the question is part of it.
    expect(normalizeQuestion('Is 1.5x speed good?')).to.equal('is 1.5x speed good');
  });

  it('treats a cache it cannot reach as a miss, not as a failed ask', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const cache = createAnswerCache({ threshold: 0.9, exactTtlSeconds: 300, semanticTtlSeconds: 3600, maxPerScope: 10, redis: unreachable });
      await cache.put('u', 'q', base, scope, answer());
      expect(await cache.getExact('u', 'q', scope)).to.equal(null);
      expect(await cache.getSemantic(base, scope)).to.equal(null);
    } finally {
      unreachable.disconnect();
    }
  });

  for (const backend of ['memory', 'redis'] as const) {
    describe(`on ${backend === 'redis' ? 'Redis' : 'the in-process store'}`, function () {
      let clock: number;
      let redis: Redis | undefined;
      const prefix = `test_${testState.runId || process.pid}_${crypto.randomBytes(3).toString('hex')}`;

      before(function () {
        if (backend === 'redis' && !redisUrl) this.skip();
        if (backend === 'redis') redis = new Redis(redisUrl!);
      });
      after(async () => {
        if (!redis) return;
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      });
      beforeEach(() => {
        clock = Date.parse('2026-11-22T12:00:00+09:00');
      });

      const newCache = (overrides: Partial<AnswerCacheOptions> = {}) =>
        createAnswerCache({
          threshold: 0.92, exactTtlSeconds: 300, semanticTtlSeconds: 86_400, maxPerScope: 50,
          redis, keyPrefix: prefix, now: () => clock, ...overrides,
        });
      // Every test asks about its own game, so tests cannot see each other's entries in Redis.
      const fresh = (overrides: Partial<CacheScope> = {}): CacheScope => ({ ...scope, game: `game-${crypto.randomBytes(4).toString('hex')}`, ...overrides });

      it('reports its backend', () => {
        expect(newCache().backend).to.equal(backend);
      });

      it('serves the same user the same normalised question within 5 minutes, and not after', async () => {
        const cache = newCache();
        const s = fresh();
        const a = answer();
        await cache.put('user-1', 'How do I water crops?', hashedNgramEmbedding('How do I water crops?'), s, a);
        clock += 299_000;
        expect(await cache.getExact('user-1', '  how do I WATER crops？ ', s)).to.deep.equal(a);
        clock += 1_000;
        expect(await cache.getExact('user-1', 'How do I water crops?', s)).to.equal(null);
      });

      it('keeps the exact cache per user and per scope', async () => {
        const cache = newCache();
        const s = fresh();
        await cache.put('user-1', 'How do I water crops?', base, s, answer());
        expect(await cache.getExact('user-2', 'How do I water crops?', s)).to.equal(null);
        expect(await cache.getExact('user-1', 'How do I water crops?', { ...s, kbVersion: s.kbVersion + 1 })).to.equal(null);
        expect(await cache.getExact('user-1', 'How do I water the crops?', s)).to.equal(null);
      });

      it('reuses an answer for a close question in the same scope, for any user, with its similarity', async () => {
        const cache = newCache();
        const s = fresh();
        const a = answer();
        await cache.put('user-1', 'How do I water crops?', base, s, a);
        const hit = await cache.getSemantic(at(0.95), { ...s, tags: [...s.tags].reverse() });
        expect(hit).to.deep.include(a);
        expect(hit!.similarity).to.be.closeTo(0.95, 1e-6);
      });

      it('reuses an answer just above the threshold and not below it', async () => {
        const cache = newCache();
        const s = fresh();
        await cache.put('user-1', 'q', base, s, answer());
        expect(await cache.getSemantic(at(0.921), s)).to.not.equal(null);
        expect(await cache.getSemantic(at(0.915), s)).to.equal(null);
        expect(await cache.getSemantic(at(0.5), s)).to.equal(null);
      });

      it('picks the closest of several earlier answers', async () => {
        const cache = newCache();
        const s = fresh();
        const near = answer('near');
        await cache.put('user-1', 'a', at(0.93), s, answer('far'));
        await cache.put('user-2', 'b', at(0.99), s, near);
        await cache.put('user-3', 'c', [0, 0, 1], s, answer('unrelated'));
        expect((await cache.getSemantic(base, s))?.text).to.equal('near');
      });

      // One assertion per scope field: a close question is never answered from another scope.
      const differing: [string, (s: CacheScope) => CacheScope][] = [
        ['game', (s) => ({ ...s, game: `${s.game}-other` })],
        ['category', (s) => ({ ...s, category: 'fishing' })],
        ['category (none)', (s) => ({ ...s, category: null })],
        ['tags', (s) => ({ ...s, tags: ['summer', 'crops'] })],
        ['tags (subset)', (s) => ({ ...s, tags: ['crops'] })],
        ['model', (s) => ({ ...s, model: 'gpt-4o' })],
        ['templateVersion', (s) => ({ ...s, templateVersion: 'stardew@9c1e' })],
        ['kbVersion', (s) => ({ ...s, kbVersion: s.kbVersion + 1 })],
      ];
      for (const [field, change] of differing) {
        it(`misses when ${field} differs, however close the question`, async () => {
          const cache = newCache();
          const s = fresh();
          await cache.put('user-1', 'How do I water crops?', base, s, answer());
          expect(await cache.getSemantic(base, s)).to.not.equal(null);
          expect(await cache.getSemantic(base, change(s))).to.equal(null);
        });
      }

      it('matches real questions through the offline n-gram embedder at its default threshold', async () => {
        const cache = newCache({ threshold: 0.97 });
        const s = fresh();
        const q = 'In the second chapter, what is the best way to beat the fire dragon with a mage build?';
        await cache.put('user-1', q, hashedNgramEmbedding(q), s, answer());
        const typed = 'In the second chapter, whats the best way to beat the fire dragon with a mage build';
        expect(await cache.getSemantic(hashedNgramEmbedding(typed), s)).to.not.equal(null);
        // One swapped word scores about 0.96 lexically: a different question, not reused.
        const other = 'In the second chapter, what is the best way to beat the fire dragon with a warrior build?';
        expect(await cache.getSemantic(hashedNgramEmbedding(other), s)).to.equal(null);
      });

      it('forgets semantic entries after their TTL', async () => {
        const cache = newCache({ semanticTtlSeconds: 3600 });
        const s = fresh();
        await cache.put('user-1', 'q', base, s, answer());
        clock += 3_599_000;
        expect(await cache.getSemantic(base, s)).to.not.equal(null);
        clock += 1_000;
        expect(await cache.getSemantic(base, s)).to.equal(null);
      });

      it('keeps at most maxPerScope answers per scope, the newest', async () => {
        const cache = newCache({ maxPerScope: 2 });
        const s = fresh();
        await cache.put('user-1', 'a', base, s, answer('oldest'));
        await cache.put('user-1', 'b', [0, 1, 0], s, answer('middle'));
        await cache.put('user-1', 'c', [0, 0, 1], s, answer('newest'));
        expect(await cache.getSemantic(base, s)).to.equal(null);
        expect((await cache.getSemantic([0, 1, 0], s))?.text).to.equal('middle');
        expect((await cache.getSemantic([0, 0, 1], s))?.text).to.equal('newest');
      });

      it('drops a game\'s answers on invalidateGame, and only that game\'s', async () => {
        const cache = newCache();
        const s = fresh();
        const other = fresh();
        await cache.put('user-1', 'q', base, s, answer());
        await cache.put('user-1', 'q', base, other, answer());
        await cache.invalidateGame(s.game);
        expect(await cache.getExact('user-1', 'q', s)).to.equal(null);
        expect(await cache.getSemantic(base, s)).to.equal(null);
        expect(await cache.getExact('user-1', 'q', other)).to.not.equal(null);
        expect(await cache.getSemantic(base, other)).to.not.equal(null);
        // Answered again after the re-ingest, it is cached again.
        await cache.put('user-1', 'q', base, s, answer('fresh'));
        expect((await cache.getExact('user-1', 'q', s))?.text).to.equal('fresh');
        expect((await cache.getSemantic(base, s))?.text).to.equal('fresh');
      });

      if (backend === 'redis') {
        it('shares entries and invalidations between nodes', async () => {
          const nodeA = newCache();
          const nodeB = newCache();
          const s = fresh();
          await nodeA.put('user-1', 'How do I water crops?', hashedNgramEmbedding('How do I water crops?'), s, answer());
          expect(await nodeB.getExact('user-1', 'how do i water crops', s)).to.not.equal(null);
          expect(await nodeB.getSemantic(hashedNgramEmbedding('How do I water crops?'), s)).to.not.equal(null);
          await nodeB.invalidateGame(s.game);
          expect(await nodeA.getExact('user-1', 'How do I water crops?', s)).to.equal(null);
          expect(await nodeA.getSemantic(hashedNgramEmbedding('How do I water crops?'), s)).to.equal(null);
        });

        it('keeps vectors of different embedding models apart', async () => {
          const s = fresh();
          await newCache({ embeddingModel: 'text-embedding-3-small' }).put('user-1', 'q', base, s, answer());
          expect(await newCache({ embeddingModel: 'text-embedding-3-small' }).getSemantic(base, s)).to.not.equal(null);
          expect(await newCache({ embeddingModel: 'offline' }).getSemantic(base, s)).to.equal(null);
        });
      }
    });
  }
});
