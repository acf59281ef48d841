// The shared rankings (services/rankings): KST periods on a test clock, ties, exact concurrent adds,
// my rank, trending, snapshots; each case runs on Postgres alone and, with REDIS_URL, with Redis
// sets in front, where the answers must be the same and a Redis loss heals by rebuild.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pino from 'pino';
import type { ApiNode } from '../../server/node.ts';
import { createRankingService, moduleRankings, type RankingBoard, type RankingPeriod, type RankingService } from '../../services/rankings/rankings.ts';
import { createTestClock, type TestClock } from '../../services/time.ts';
import { redisUrl, startNode, stopAllNodes } from '../helpers.ts';
import { testState } from '../state.ts';

const logger = pino({ level: 'silent' });
const PERIODS: RankingPeriod[] = ['daily', 'weekly', 'monthly', 'all'];
// A Sunday, 23:30 in Seoul (14:30 UTC): the next hour crosses a KST day and a KST week.
const SUNDAY_LATE = '2026-11-29T23:30:00+09:00';

// SCAN + UNLINK of one prefix's keys: what losing a Redis looks like to these sets, without touching
// another test's (or run's) keys.
async function flushPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) deleted += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

let node: ApiNode;
before(async function () {
  this.timeout(60_000);
  node = await startNode();
});
after(() => stopAllNodes());

for (const store of ['postgres', 'redis'] as const) {
  describe(`rankings (${store})`, function () {
    let redis: Redis | undefined;
    let clock: TestClock;
    let prefix: string;
    const services: RankingService[] = [];

    before(function () {
      if (store === 'redis' && !redisUrl) return this.skip();
      if (store === 'redis') redis = new Redis(redisUrl!);
    });
    beforeEach(() => {
      clock = createTestClock(SUNDAY_LATE);
      prefix = `test_${testState.runId}:rankings:${crypto.randomUUID()}`;
    });
    afterEach(async () => {
      await Promise.all(services.splice(0).map((s) => s.settled()));
    });
    after(() => redis?.disconnect());

    function service(opts: { redis?: Redis | null } = {}): RankingService {
      const s = createRankingService({ em: node.ctx.db.orm.em, redis: opts.redis === null ? undefined : (opts.redis ?? redis), keyPrefix: prefix, clock, logger });
      services.push(s);
      return s;
    }
    const newBoard = (s = service()) => s.define({ board: `test.b${crypto.randomBytes(5).toString('hex')}` });

    // With Redis, a set is read once rebuilt: the first read starts the rebuild, the second reads it.
    async function warm(s: RankingService, board: RankingBoard) {
      if (!redis) return;
      await board.rebuild();
      await s.settled();
    }

    const pairs = (items: { itemId: string; score: number }[]) => items.map((i) => `${i.itemId}:${i.score}`);

    it('keeps daily, weekly, monthly and all-time scores with KST boundaries across a day and a week', async () => {
      const s = service();
      const b = newBoard(s);
      await b.add('a', 5);
      await b.add('b', 3);
      const sunday = clock.now();
      clock.set('2026-11-30T00:10:00+09:00'); // Monday in Seoul, still Sunday 15:10 in UTC
      await b.add('a', 1);
      await b.add('c', 4);
      await warm(s, b);

      const now = Object.fromEntries(await Promise.all(PERIODS.map(async (p) => [p, await b.leaderboard(p)] as const)));
      expect(now.daily.period).to.deep.equal({ kind: 'daily', start: '2026-11-30' });
      expect(now.weekly.period).to.deep.equal({ kind: 'weekly', start: '2026-11-30' });
      expect(now.monthly.period).to.deep.equal({ kind: 'monthly', start: '2026-11-01' });
      expect(pairs(now.daily.items)).to.deep.equal(['c:4', 'a:1']);
      expect(pairs(now.weekly.items)).to.deep.equal(['c:4', 'a:1']);
      expect(pairs(now.monthly.items)).to.deep.equal(['a:6', 'c:4', 'b:3']);
      expect(pairs(now.all.items)).to.deep.equal(['a:6', 'c:4', 'b:3']);
      if (redis) for (const p of PERIODS) expect(now[p].source, p).to.equal('redis');

      // The periods that held Sunday: still readable by instant.
      expect(pairs(await b.top('daily', { at: sunday }))).to.deep.equal(['a:5', 'b:3']);
      const lastWeek = await b.leaderboard('weekly', { at: sunday });
      expect(lastWeek.period.start).to.equal('2026-11-23');
      expect(pairs(lastWeek.items)).to.deep.equal(['a:5', 'b:3']);

      // An add stamped in the past lands in the periods of its instant.
      await b.add('b', 10, sunday);
      expect(pairs(await b.top('daily', { at: sunday }))).to.deep.equal(['b:13', 'a:5']);
      expect(pairs(await b.top('daily'))).to.deep.equal(['c:4', 'a:1']);
      expect(pairs(await b.top('monthly'))).to.deep.equal(['b:13', 'a:6', 'c:4']);

      // December starts a month, not a week.
      clock.set('2026-12-01T00:00:00+09:00');
      await b.add('d', 2);
      expect(pairs(await b.top('monthly'))).to.deep.equal(['d:2']);
      expect(pairs(await b.top('weekly'))).to.deep.equal(['c:4', 'd:2', 'a:1']);
    });

    it('ranks ties by item id, byte order descending, and answers my rank beyond the top', async () => {
      const s = service();
      const b = newBoard(s);
      for (const id of ['a', 'B', 'b', '가', 'z']) await b.add(id, 10);
      await b.add('low', 1);
      await warm(s, b);
      const board = await b.leaderboard('all', { limit: 3, itemId: 'low' });
      // UTF-8 bytes: 가 (0xEA…) > z > b > a > B.
      expect(board.items.map((i) => `${i.rank}.${i.itemId}`)).to.deep.equal(['1.가', '2.z', '3.b']);
      expect(board.mine).to.deep.equal({ rank: 6, score: 1 });
      expect(await b.rankOf('all', 'B')).to.deep.equal({ rank: 5, score: 10 });
      expect(await b.rankOf('all', 'a')).to.deep.equal({ rank: 4, score: 10 });
      expect(await b.rankOf('all', 'nobody')).to.equal(null);
      expect((await b.leaderboard('daily', { itemId: 'nobody' })).mine).to.equal(null);
      const tooMany = await b.top('all', { limit: 101 }).catch((e: { code?: string }) => e);
      expect(tooMany).to.include({ code: 'invalid_limit' });
    });

    it('counts concurrent adds exactly, negative points included', async () => {
      const s = service();
      const b = newBoard(s);
      const items = ['p', 'q', 'r', 's'];
      await Promise.all(Array.from({ length: 200 }, (_, i) => b.add(items[i % 4], Math.floor(i / 4) % 10 === 9 ? -1 : 2)));
      await warm(s, b);
      // Per item 50 adds: 5 of them −1, 45 of them +2.
      const expected = items.map((id) => `${id}:85`).sort().reverse();
      for (const p of PERIODS) expect(pairs(await b.top(p)), p).to.deep.equal(expected);
      if (redis) {
        const key = `${prefix}:${b.board}:all:1970-01-01`;
        expect(await redis.zscore(key, 'p')).to.equal('85');
      }
    });

    it('trends by growth of today over yesterday, ties by today\'s score', async () => {
      const s = service();
      const b = newBoard(s);
      await b.add('a', 10);
      await b.add('b', 2);
      await b.add('d', 5);
      clock.advance(3600_000); // Monday 00:30 KST
      await b.add('a', 12);
      await b.add('b', 5);
      await b.add('c', 3);
      await b.add('d', 1);
      const trending = await b.trending();
      expect(trending).to.deep.equal([
        { itemId: 'b', growth: 3, score: 5, previous: 2, rank: 1 },
        { itemId: 'c', growth: 3, score: 3, previous: 0, rank: 2 },
        { itemId: 'a', growth: 2, score: 12, previous: 10, rank: 3 },
      ]);
      expect((await b.trending({ limit: 1 })).map((t) => t.itemId)).to.deep.equal(['b']);
    });

    it('snapshots a day idempotently, with the ranks the day closed on', async () => {
      const s = service();
      const b = newBoard(s);
      await b.add('a', 3);
      await b.add('b', 5);
      clock.advance(3600_000); // Monday: a new day and week, the same month
      await b.add('a', 10); // after Sunday closed: not in Sunday's snapshot
      await b.add('n', 1); // new on Monday: not in Sunday's ranks at all
      const first = await b.snapshot('2026-11-29');
      expect(first).to.deep.equal({ daily: 2, weekly: 2, monthly: 2, all: 2 });
      for (const p of PERIODS) expect(pairs(await b.snapshotTop('2026-11-29', p)), p).to.deep.equal(['b:5', 'a:3']);
      await b.add('a', 100);
      expect(await b.snapshot('2026-11-29')).to.deep.equal(first);
      expect(pairs(await b.snapshotTop('2026-11-29', 'monthly'))).to.deep.equal(['b:5', 'a:3']);
      const [{ n }] = await node.ctx.db.orm.em.fork().execute<{ n: string }[]>('select count(*) as n from ranking_snapshots where board = ?', [b.board]);
      expect(Number(n)).to.equal(8);

      // The daily job snapshots yesterday (KST) for every board, whoever defined it.
      const job = await service().runDaily();
      expect(job.day).to.equal('2026-11-29');
      expect(job.failed).to.deep.equal([]);
      expect((await b.snapshotTop('2026-11-29', 'daily')).map((e) => e.itemId)).to.deep.equal(['b', 'a']);
    });

    it('prefixes a module\'s boards with the module', () => {
      const s = service();
      expect(moduleRankings(s, 'walk').define({ board: 'walkers' }).board).to.equal('walk.walkers');
      expect(() => moduleRankings(s, 'walk').define({ board: 'walkers' })).to.throw(/defined twice/);
      expect(() => s.define({ board: 'bad:name' })).to.throw(/ranking board/);
    });

    if (store === 'redis') {
      it('answers the same with Redis as without, and reads an unbuilt set from Postgres while rebuilding it', async () => {
        const withRedis = service();
        const b = newBoard(withRedis);
        const plain = service({ redis: null }).define({ board: b.board });
        for (let i = 0; i < 300; i++) await b.add(`item${i % 37}`, (i * 7919) % 13, i % 3 === 0 ? new Date(clock.now().getTime() - 86_400_000) : undefined);
        for (const p of PERIODS) expect((await b.leaderboard(p, { itemId: 'item5' })).source, p).to.equal('postgres');
        await withRedis.settled();
        for (const p of PERIODS) {
          const viaRedis = await b.leaderboard(p, { itemId: 'item5' });
          const viaPostgres = await plain.leaderboard(p, { itemId: 'item5' });
          expect(viaRedis.source, p).to.equal('redis');
          expect(viaPostgres.source).to.equal('postgres');
          expect({ ...viaRedis, source: '' }, p).to.deep.equal({ ...viaPostgres, source: '' });
        }
      });

      it('heals a Redis loss, and writes Redis missed, by rebuilding from Postgres', async () => {
        const s = service();
        const b = newBoard(s);
        const plain = service({ redis: null }).define({ board: b.board });
        for (let i = 0; i < 50; i++) await b.add(`i${i % 11}`, i);
        await warm(s, b);
        const before = await b.leaderboard('all', { itemId: 'i3' });
        expect(before.source).to.equal('redis');

        expect(await flushPrefix(redis!, prefix)).to.be.greaterThan(0);
        // An add after the loss re-creates a partial set; without its rebuilt mark it is not read.
        await b.add('i3', 1000);
        const lost = await b.leaderboard('all', { itemId: 'i3' });
        expect(lost.source).to.equal('postgres');
        expect(lost.mine).to.deep.equal({ rank: 1, score: (await plain.rankOf('all', 'i3'))!.score });
        await s.settled(); // the read started the rebuild
        expect((await b.leaderboard('all')).source).to.equal('redis');

        // Writes another node made while its Redis was unreachable: Redis is behind until a rebuild.
        const offline = new Redis(redisUrl!, { lazyConnect: true });
        const blind = service({ redis: offline }).define({ board: b.board });
        await blind.add('i7', 5000);
        expect((await b.top('all', { limit: 1 }))[0].itemId).to.equal('i3');
        await b.rebuild();
        const healed = await b.leaderboard('all', { itemId: 'i7' });
        expect(healed.source).to.equal('redis');
        expect(healed.items[0]).to.deep.equal({ itemId: 'i7', score: (await plain.rankOf('all', 'i7'))!.score, rank: 1 });
        expect({ ...healed, source: '' }).to.deep.equal({ ...(await plain.leaderboard('all', { itemId: 'i7' })), source: '' });
        offline.disconnect();

        // The daily job rebuilds too.
        await flushPrefix(redis!, prefix);
        const job = await service().runDaily();
        expect(job.rebuiltRows).to.be.greaterThan(0);
        expect((await b.leaderboard('all')).source).to.equal('redis');
      });
    }
  });
}
