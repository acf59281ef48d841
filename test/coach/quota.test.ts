import crypto from 'node:crypto';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createOrm, type Orm } from '../../server/db.ts';
import { createLogger } from '../../server/logger.ts';
import { AppError } from '../../services/errors.ts';
import { createTimeFormatter } from '../../services/time.ts';
import { createQuotaService, kstPeriod, type QuotaPlan } from '../../services/coach/quota.ts';
import { testState } from '../state.ts';
import { testModules } from '../helpers.ts';

const free: QuotaPlan = { tier: 'free', callLimit: 30, callPeriod: 'week' };
const special: QuotaPlan = { tier: 'basic_special', callLimit: 100, callPeriod: 'month' };

describe('coach: quotas', () => {
  let orm: Orm;
  let registry: Registry;
  let clock: Date;
  let quota: ReturnType<typeof createQuotaService>;

  before(async () => {
    orm = await createOrm({ url: testState.databaseUrl, poolMax: 6, logger: createLogger({ level: 'silent', pretty: false, nodeId: 'quota-test' }), modules: testModules });
  });
  after(async () => {
    await orm.close(true);
  });
  beforeEach(() => {
    registry = new Registry();
    clock = new Date('2026-11-18T12:00:00+09:00'); // a Wednesday in KST
    quota = createQuotaService({ em: orm.em, registry, time: createTimeFormatter('Asia/Seoul'), now: () => clock });
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
    clock = new Date('2026-11-22T23:59:59+09:00'); // Sunday, last second of the week
    for (let i = 0; i < 30; i++) await quota.consume(userId, free);
    const err = await quota.consume(userId, free).then(() => null, (e: AppError) => e);
    expect(err?.code).to.equal('quota_exceeded');
    expect(err?.extra.resetAt).to.equal('2026-11-23T00:00:00+09:00');
    expect(err?.extra.retryAfter).to.equal(1);

    clock = new Date('2026-11-23T00:00:00+09:00'); // Monday 00:00 KST = Sunday 15:00 UTC
    const grant = await quota.consume(userId, free);
    expect(grant.remaining).to.equal(29);
    expect(grant.resetAt.toISOString()).to.equal(new Date('2026-11-30T00:00:00+09:00').toISOString());
  });

  it('computes KST weeks and months on their boundaries', () => {
    const week = (iso: string) => kstPeriod('week', new Date(iso));
    const month = (iso: string) => kstPeriod('month', new Date(iso));
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
    clock = new Date('2026-11-30T23:59:00+09:00');
    await quota.consume(userId, plan);
    await quota.consume(userId, plan);
    const err = await quota.consume(userId, plan).then(() => null, (e: AppError) => e);
    expect(err?.extra).to.include({ resetAt: '2026-12-01T00:00:00+09:00', limit: 2, period: 'month' });
    expect(await exceededTotal('basic_special')).to.equal(1);
    clock = new Date('2026-12-01T00:00:00+09:00');
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

    clock = new Date('2026-11-22T23:59:59+09:00');
    const grant = await quota.consume(userId, plan);
    clock = new Date('2026-11-23T00:00:01+09:00');
    await quota.consume(userId, plan);
    await quota.release(userId, plan, grant);
    expect((await quota.status(userId, plan)).used).to.equal(1);
    clock = new Date('2026-11-22T23:00:00+09:00');
    expect((await quota.status(userId, plan)).used).to.equal(0);
  });

  it('reports an untouched period as unused', async () => {
    const userId = await newUserId();
    expect(await quota.status(userId, free)).to.deep.equal({ used: 0, remaining: 30, resetAt: new Date('2026-11-23T00:00:00+09:00') });
  });
});
