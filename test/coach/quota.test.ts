import crypto from 'node:crypto';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createOrm, type Orm } from '../../server/db.ts';
import { createLogger } from '../../server/logger.ts';
import type { ApiNode } from '../../server/node.ts';
import { AppError } from '../../services/errors.ts';
import { createTestClock, createTimeFormatter, zoneCalendar, type TestClock } from '../../services/time.ts';
import { createQuotaService, QUOTA_ZONE, type QuotaPlan } from '../../services/coach/quota.ts';
import { testState } from '../state.ts';
import { coach, newUser, request, startNode, stopAllNodes, testModules } from '../helpers.ts';

const free: QuotaPlan = { tier: 'free', callLimit: 30, callPeriod: 'week' };
const special: QuotaPlan = { tier: 'basic_special', callLimit: 100, callPeriod: 'month' };

describe('coach: quotas', () => {
  let orm: Orm;
  let registry: Registry;
  let clock: TestClock;
  let quota: ReturnType<typeof createQuotaService>;

  before(async () => {
    orm = await createOrm({ url: testState.databaseUrl, poolMax: 6, logger: createLogger({ level: 'silent', pretty: false, nodeId: 'quota-test' }), modules: testModules });
  });
  after(async () => {
    await orm.close(true);
  });
  beforeEach(() => {
    registry = new Registry();
    clock = createTestClock('2026-11-18T12:00:00+09:00'); // a Wednesday in KST
    quota = createQuotaService({ em: orm.em, registry, time: createTimeFormatter('Asia/Seoul'), clock });
  });

  async function newUserId(): Promise<string> {
    const id = crypto.randomUUID();
    await orm.em.execute('insert into users (id, username) values (?, ?)', [id, `quota_${id.slice(0, 8)}`]);
    return id;
  }

  const refusalsOf = async (userId: string) =>
    (await orm.em.execute<{ plan_tier: string }[]>('select plan_tier from coach_quota_refusals where user_id = ?', [userId])).map((r) => r.plan_tier);

  const exceededTotal = async (plan: string) =>
    (await registry.getSingleMetric('quota_exceeded_total')!.get()).values.find((v) => v.labels.plan === plan)?.value ?? 0;

  it('lets exactly 30 of 40 parallel asks through on the free plan and refuses the rest until next Monday 00:00 KST', async () => {
    const userId = await newUserId();
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => quota.consume(userId, free)));
    const granted = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as AppError);
    expect(granted).to.have.length(30);
    expect(refused).to.have.length(10);
    for (const err of refused) {
      expect(err).to.be.instanceOf(AppError);
      expect(err.status).to.equal(429);
      expect(err.code).to.equal('quota_exceeded');
      expect(err.extra).to.include({ resetAt: '2026-11-23T00:00:00+09:00', limit: 30, period: 'week' });
      expect(err.message).to.contain('2026-11-23T00:00:00+09:00');
    }
    // The remaining counts handed out are 29…0, each once: no two asks saw the same count.
    const remaining = granted.map((o) => (o as PromiseFulfilledResult<{ remaining: number }>).value.remaining).sort((a, b) => a - b);
    expect(remaining).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
    expect(await quota.status(userId, free)).to.deep.equal({ used: 30, remaining: 0, resetAt: new Date('2026-11-23T00:00:00+09:00') });
    expect(await refusalsOf(userId)).to.deep.equal(Array(10).fill('free'));
    expect(await exceededTotal('free')).to.equal(10);
  });

  it('starts a new week at Monday 00:00 KST, not at midnight UTC', async () => {
    const userId = await newUserId();
    clock.set('2026-11-22T23:59:59+09:00'); // Sunday, last second of the week
    for (let i = 0; i < 30; i++) await quota.consume(userId, free);
    const err = await quota.consume(userId, free).then(() => null, (e: AppError) => e);
    expect(err?.code).to.equal('quota_exceeded');
    expect(err?.extra.resetAt).to.equal('2026-11-23T00:00:00+09:00');
    expect(err?.extra.retryAfter).to.equal(1);

    clock.set('2026-11-23T00:00:00+09:00'); // Monday 00:00 KST = Sunday 15:00 UTC
    const grant = await quota.consume(userId, free);
    expect(grant.remaining).to.equal(29);
    expect(grant.resetAt.toISOString()).to.equal(new Date('2026-11-30T00:00:00+09:00').toISOString());
  });

  it('computes KST weeks and months on their boundaries', () => {
    expect(QUOTA_ZONE).to.equal('Asia/Seoul');
    const kst = zoneCalendar(QUOTA_ZONE);
    const week = (iso: string) => kst.week(new Date(iso));
    const month = (iso: string) => kst.month(new Date(iso));
    expect(week('2026-11-22T23:59:59.999+09:00').start.toISOString()).to.equal(new Date('2026-11-16T00:00:00+09:00').toISOString());
    expect(week('2026-11-23T00:00:00+09:00').start.toISOString()).to.equal(new Date('2026-11-23T00:00:00+09:00').toISOString());
    // Monday 08:59 KST is still Sunday in UTC: the week is Korea's.
    expect(week('2026-11-23T08:59:00+09:00').end.toISOString()).to.equal(new Date('2026-11-30T00:00:00+09:00').toISOString());
    // A week across a year's end.
    expect(week('2027-01-01T10:00:00+09:00').start.toISOString()).to.equal(new Date('2026-12-28T00:00:00+09:00').toISOString());
    expect(month('2026-11-30T23:59:59.999+09:00').end.toISOString()).to.equal(new Date('2026-12-01T00:00:00+09:00').toISOString());
    expect(month('2026-12-01T00:00:00+09:00').start.toISOString()).to.equal(new Date('2026-12-01T00:00:00+09:00').toISOString());
    expect(month('2026-12-31T15:00:00Z').start.toISOString()).to.equal(new Date('2027-01-01T00:00:00+09:00').toISOString());
    expect(month('2028-02-29T12:00:00+09:00').end.toISOString()).to.equal(new Date('2028-03-01T00:00:00+09:00').toISOString());
  });

  it('counts a monthly plan until the 1st 00:00 KST', async () => {
    const userId = await newUserId();
    const plan: QuotaPlan = { ...special, callLimit: 2 };
    clock.set('2026-11-30T23:59:00+09:00');
    await quota.consume(userId, plan);
    await quota.consume(userId, plan);
    const err = await quota.consume(userId, plan).then(() => null, (e: AppError) => e);
    expect(err?.extra).to.include({ resetAt: '2026-12-01T00:00:00+09:00', limit: 2, period: 'month' });
    expect(await exceededTotal('basic_special')).to.equal(1);
    clock.set('2026-12-01T00:00:00+09:00');
    expect((await quota.consume(userId, plan)).remaining).to.equal(1);
  });

  it('gives a call back on release, never below zero, and to the period that was charged', async () => {
    const userId = await newUserId();
    const plan: QuotaPlan = { ...free, callLimit: 2 };
    await quota.consume(userId, plan);
    await quota.consume(userId, plan);
    await quota.release(userId, plan);
    expect((await quota.status(userId, plan)).used).to.equal(1);
    expect((await quota.consume(userId, plan)).remaining).to.equal(0);

    await quota.release(userId, plan);
    await quota.release(userId, plan);
    await quota.release(userId, plan);
    expect((await quota.status(userId, plan)).used).to.equal(0);

    clock.set('2026-11-22T23:59:59+09:00');
    const grant = await quota.consume(userId, plan);
    clock.set('2026-11-23T00:00:01+09:00');
    await quota.consume(userId, plan);
    await quota.release(userId, plan, grant);
    expect((await quota.status(userId, plan)).used).to.equal(1);
    clock.set('2026-11-22T23:00:00+09:00');
    expect((await quota.status(userId, plan)).used).to.equal(0);
  });

  it('reports an untouched period as unused', async () => {
    const userId = await newUserId();
    expect(await quota.status(userId, free)).to.deep.equal({ used: 0, remaining: 30, resetAt: new Date('2026-11-23T00:00:00+09:00') });
  });
});

describe('coach: quotas on a node that runs on a test clock', () => {
  let node: ApiNode;
  // Sunday, a minute before the week ends in KST (14:59 UTC: Sunday in UTC too).
  const clock = createTestClock('2026-11-22T23:59:00+09:00');
  const game = `quota${crypto.randomBytes(4).toString('hex')}`;

  before(async () => {
    node = await startNode({ LLM_OFFLINE: 'true', COACH_KB_SEED_ON_START: 'false' }, clock);
    await coach(node).knowledge.ingest([
      { game, title: '웨이브 관리', content: '미니언 웨이브를 당기거나 밀어서 라인 주도권을 잡습니다.' },
      { game, title: '귀환 타이밍', content: '웨이브를 밀어 넣은 뒤 귀환하면 손해가 적습니다.' },
    ]);
  });
  after(stopAllNodes);

  it('gives a user\'s free calls back when the clock crosses Monday 00:00 KST', async () => {
    const u = await newUser(node);
    const ask = (question: string) => request(node, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question, game } });
    const usage = () => node.ctx.db.orm.em.fork().execute<{ period_start: Date; calls: number }[]>(
      'select period_start, calls from coach_usage where user_id = ? order by period_start', [u.id]);

    const first = await ask('웨이브는 언제 밀어야 하나요?');
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body).to.include({ cached: false, planRemaining: 29 });
    // The rest of the week's 30 calls are used up.
    await node.ctx.db.orm.em.fork().execute('update coach_usage set calls = 30 where user_id = ?', [u.id]);

    const refused = await ask('귀환은 언제 하나요?');
    expect(refused.status).to.equal(429);
    expect(refused.body).to.include({ code: 'quota_exceeded', resetAt: '2026-11-23T00:00:00+09:00' });
    expect(refused.headers.get('retry-after')).to.equal('60');

    clock.advance(59_999); // 23:59:59.999: still last week
    expect((await ask('드래곤은 언제 잡나요?')).status).to.equal(429);
    clock.advance(1); // Monday 00:00 KST, Sunday 15:00 UTC
    const next = await ask('라인 주도권은 어떻게 잡나요?');
    expect(next.status, JSON.stringify(next.body)).to.equal(200);
    expect(next.body).to.include({ cached: false, planRemaining: 29 });
    expect((await usage()).map((r) => [new Date(r.period_start).toISOString(), r.calls])).to.deep.equal([
      [new Date('2026-11-16T00:00:00+09:00').toISOString(), 30],
      [new Date('2026-11-23T00:00:00+09:00').toISOString(), 1],
    ]);
  });
});
