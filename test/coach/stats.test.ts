import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

describe('coach: GET /admin/stats', () => {
  let node: ApiNode;
  let admin: TestUser;
  let user: TestUser;
  const sql = (q: string, params: unknown[] = []) => node.ctx.db.orm.em.fork().execute(q, params);
  const stats = (query: string, token = admin.accessToken) => request(node, 'GET', `/admin/stats${query}`, { token });

  // Instants written with their KST offset: 23:30 on the 1st and 00:10 on the 2nd are both the
  // 1st in UTC, so grouping by UTC day would merge them.
  const answer = (at: string, planTier: string, costUsd: number, cacheKind: 'exact' | 'semantic' | null) =>
    sql(
      `insert into coach_answers (id, user_id, game, question, answer, status, plan_tier, model, cost_usd, is_cached, cache_kind, created_at)
       values (?, ?, 'lol', 'q', 'a', 'done', ?, 'gpt-4o-mini', ?, ?, ?, ?)`,
      [crypto.randomUUID(), user.id, planTier, costUsd, cacheKind !== null, cacheKind, at],
    );
  const refusal = (at: string, planTier: string) => sql('insert into coach_quota_refusals (user_id, plan_tier, refused_at) values (?, ?, ?)', [user.id, planTier, at]);

  before(async () => {
    node = await startNode();
    admin = await newUser(node);
    user = await newUser(node);
    await sql(`update users set role = 'admin' where id = ?`, [admin.id]);
    await answer('2025-03-01T09:00:00+09:00', 'free', 0.0012, null);
    await answer('2025-03-01T12:00:00+09:00', 'free', 0, 'exact');
    await answer('2025-03-01T23:30:00+09:00', 'basic', 0.004, null);
    await answer('2025-03-02T00:10:00+09:00', 'basic', 0, 'semantic');
    await answer('2025-03-02T10:00:00+09:00', 'basic', 0.0025, null);
    await answer('2025-03-02T11:00:00+09:00', 'basic', 0, 'exact');
    await refusal('2025-03-01T20:00:00+09:00', 'free');
    await refusal('2025-03-02T00:05:00+09:00', 'free');
    await refusal('2025-03-02T08:00:00+09:00', 'basic_special');
    // Outside the range by minutes on either side.
    await answer('2025-02-28T23:59:00+09:00', 'free', 1, null);
    await answer('2025-03-03T00:00:00+09:00', 'free', 1, null);
  });
  after(stopAllNodes);

  it('sums calls, cost, cache hit rates and quota refusals by plan and by KST day', async () => {
    const res = await stats('?from=2025-03-01&to=2025-03-02');
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ from: '2025-03-01', to: '2025-03-02', timeZone: 'Asia/Seoul' });
    expect(res.body.totals).to.deep.equal({
      calls: 6, costUsd: 0.0077, cacheHits: { exact: 2, semantic: 1 },
      cacheHitRate: { exact: 0.3333, semantic: 0.1667, total: 0.5 }, quotaRefusals: 3,
    });
    const byPlan = Object.fromEntries(res.body.byPlan.map((p: { planTier: string }) => [p.planTier, p]));
    expect(byPlan.free).to.deep.include({ calls: 2, costUsd: 0.0012, quotaRefusals: 2 });
    expect(byPlan.free.cacheHitRate).to.deep.equal({ exact: 0.5, semantic: 0, total: 0.5 });
    expect(byPlan.basic).to.deep.include({ calls: 4, costUsd: 0.0065, quotaRefusals: 0, cacheHits: { exact: 1, semantic: 1 } });
    expect(byPlan.basic_special).to.deep.include({ calls: 0, costUsd: 0, quotaRefusals: 1 });
    expect(byPlan.basic_special.cacheHitRate.total).to.equal(0);

    const [day1, day2] = res.body.byDay;
    expect(day1).to.deep.include({ date: '2025-03-01', calls: 3, costUsd: 0.0052, quotaRefusals: 1, cacheHits: { exact: 1, semantic: 0 } });
    expect(day2).to.deep.include({ date: '2025-03-02', calls: 3, costUsd: 0.0025, quotaRefusals: 2, cacheHits: { exact: 1, semantic: 1 } });
    expect(day2.byPlan.map((p: { planTier: string }) => p.planTier)).to.deep.equal(['basic', 'basic_special', 'free']);
  });

  it('covers the last 30 KST days by default, today included', async () => {
    await answer(new Date().toISOString(), 'free', 0.5, null);
    const res = await stats('');
    expect(res.status).to.equal(200);
    expect((Date.parse(res.body.to) - Date.parse(res.body.from)) / 86_400_000).to.equal(29);
    expect(res.body.totals.calls).to.be.at.least(1);
    expect(res.body.byDay.at(-1).date).to.equal(res.body.to);
  });

  it('answers 400 naming the field for a bad or reversed range, and 403 to non-admins', async () => {
    const bad = await stats('?from=2025-02-30');
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0]).to.include({ field: 'from', in: 'query' });
    const reversed = await stats('?from=2025-03-05&to=2025-03-01');
    expect(reversed.status).to.equal(400);
    expect(reversed.body.errors[0].field).to.equal('from');
    expect((await stats('?from=2020-01-01&to=2025-01-01')).status).to.equal(400);
    expect((await stats('', user.accessToken)).status).to.equal(403);
  });
});
