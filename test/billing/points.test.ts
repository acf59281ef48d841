import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createPointsWallet, type PointsWallet } from '../../services/billing/points.ts';
import { createTestClock } from '../../services/time.ts';
import { inTransaction } from '../../services/transaction.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('points wallet', () => {
  let node: ApiNode;
  let points: PointsWallet;
  before(async () => {
    node = await startNode({ DATABASE_POOL_MAX: '10' });
    points = node.services.points;
  });
  after(stopAllNodes);

  const key = () => crypto.randomUUID();
  const ledgerSum = async (userId: string) =>
    Number((await node.ctx.db.orm.em.fork().execute<{ s: string }[]>('select coalesce(sum(amount), 0) as s from point_transactions where user_id = ?', [userId]))[0].s);

  it('1,000 concurrent 10-point spends on a 5,000-point wallet: exactly 500 succeed, the balance ends at 0 and the ledger sums to it', async function () {
    this.timeout(60_000);
    const u = await newUser(node);
    await points.credit(u.id, { amount: 5000, idempotencyKey: key() });
    const outcomes = await Promise.allSettled(Array.from({ length: 1000 }, () => points.spend(u.id, { amount: 10, idempotencyKey: key(), description: 'race' })));
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(ok).to.have.length(500);
    expect(refused).to.have.length(500);
    expect(new Set(refused.map((r) => (r.reason as { code: string }).code))).to.deep.equal(new Set(['insufficient_points']));
    expect(await points.balance(u.id)).to.include({ balance: 0, totalCredited: 5000, totalSpent: 5000 });
    expect(await ledgerSum(u.id)).to.equal(0);
  });

  it('moves points once per idempotency key, even when the same key races itself', async () => {
    const u = await newUser(node);
    await points.credit(u.id, { amount: 100, idempotencyKey: key() });
    const k = key();
    const results = await Promise.all(Array.from({ length: 8 }, () => points.spend(u.id, { amount: 30, idempotencyKey: k })));
    expect(results.filter((r) => !r.replayed)).to.have.length(1);
    expect(new Set(results.map((r) => r.entry.id)).size).to.equal(1);
    expect((await points.balance(u.id)).balance).to.equal(70);
    // A credit replayed by a webhook delivered twice credits once.
    const ck = key();
    await Promise.all([points.credit(u.id, { amount: 50, idempotencyKey: ck }), points.credit(u.id, { amount: 50, idempotencyKey: ck })]);
    expect((await points.balance(u.id)).balance).to.equal(120);
  });

  it('refuses a spend the balance does not cover, moving nothing, including on a wallet never credited', async () => {
    const u = await newUser(node);
    const err = await points.spend(u.id, { amount: 1, idempotencyKey: key() }).catch((e) => e);
    expect(err).to.include({ status: 402, code: 'insufficient_points' });
    await points.credit(u.id, { amount: 5, idempotencyKey: key() });
    const over = await points.spend(u.id, { amount: 6, idempotencyKey: key() }).catch((e) => e);
    expect(over.code).to.equal('insufficient_points');
    expect(over.extra).to.deep.equal({ balance: 5, required: 6 });
    expect(await ledgerSum(u.id)).to.equal(5);
  });

  it('reserves before the work, settles to the actual cost, releases on failure; closing twice moves nothing', async () => {
    const u = await newUser(node);
    await points.credit(u.id, { amount: 100, idempotencyKey: key() });
    const r1 = await points.reserve(u.id, { amount: 40, idempotencyKey: key(), reference: { type: 'chat_message', id: 'm1' } });
    expect(r1.balanceAfter).to.equal(60);
    // Too few points left for the next hold: nothing is held.
    const refused = await points.reserve(u.id, { amount: 61, idempotencyKey: key() }).catch((e) => e);
    expect(refused.code).to.equal('insufficient_points');
    const settled = await points.settle(r1.id, 25);
    expect(settled).to.include({ charged: 25, released: 15, balanceAfter: 75, alreadyClosed: false });
    expect(await points.settle(r1.id, 25)).to.include({ alreadyClosed: true, charged: 25 });
    expect(await points.release(r1.id)).to.include({ alreadyClosed: true });
    // Charged more than was held: only the hold is taken.
    const r2 = await points.reserve(u.id, { amount: 10, idempotencyKey: key() });
    expect(await points.settle(r2.id, 999)).to.include({ charged: 10, released: 0, balanceAfter: 65 });
    // The same hold asked twice at once (a retried request): one hold.
    const holdKey = key();
    const [r3, r3again] = await Promise.all([points.reserve(u.id, { amount: 30, idempotencyKey: holdKey }), points.reserve(u.id, { amount: 30, idempotencyKey: holdKey })]);
    expect(r3again.id).to.equal(r3.id);
    const both = await Promise.all([points.release(r3.id), points.release(r3.id)]);
    expect(both.filter((b) => !b.alreadyClosed)).to.have.length(1);
    expect(await points.balance(u.id)).to.include({ balance: 65, totalSpent: 35 });
    expect(await ledgerSum(u.id)).to.equal(65);
  });

  it('releases reservations nobody closed once they expire', async () => {
    const clock = createTestClock(new Date());
    const wallet = createPointsWallet({ em: node.ctx.db.orm.em, time: node.ctx.time, clock, reservationTtlSeconds: 60 });
    const u = await newUser(node);
    await wallet.credit(u.id, { amount: 50, idempotencyKey: key() });
    await wallet.reserve(u.id, { amount: 20, idempotencyKey: key() });
    expect(await wallet.releaseExpired()).to.equal(0);
    clock.advance(61_000);
    expect(await wallet.releaseExpired()).to.be.greaterThanOrEqual(1);
    expect((await wallet.balance(u.id)).balance).to.equal(50);
  });

  it('a refund takes back what it credited; what was already spent becomes debt that the next credit pays first', async () => {
    const u = await newUser(node);
    await points.credit(u.id, { amount: 500, idempotencyKey: 'pack-1', reference: { type: 'payment', id: 'p1' } });
    await points.spend(u.id, { amount: 400, idempotencyKey: key() });
    const reversed = await points.reverse(u.id, { amount: 500, idempotencyKey: 'refund-1', reference: { type: 'payment', id: 'p1' } });
    expect(reversed).to.include({ debtAdded: 400 });
    expect(reversed.entry).to.include({ type: 'reversal', amount: -100, balanceAfter: 0, debtAfter: 400 });
    expect((await points.reverse(u.id, { amount: 500, idempotencyKey: 'refund-1' })).replayed).to.equal(true);
    await points.credit(u.id, { amount: 1000, idempotencyKey: 'pack-2' });
    expect(await points.balance(u.id)).to.include({ balance: 600, debt: 0 });
    expect(await ledgerSum(u.id)).to.equal(600);
    const page = await points.transactions(u.id, { limit: 2 });
    expect(page.items.map((e) => e.type)).to.deep.equal(['debt_payment', 'credit']);
    const rest = await points.transactions(u.id, { limit: 10, beforeId: page.nextBeforeId! });
    expect(rest.items.map((e) => e.type)).to.deep.equal(['reversal', 'spend', 'credit']);
    expect(rest.nextBeforeId).to.equal(null);
  });

  it('credits inside the caller\'s transaction: rolled back with it', async () => {
    const u = await newUser(node);
    const err = await inTransaction(node.ctx.db.orm.em.fork(), async (tx) => {
      await points.credit(u.id, { amount: 70, idempotencyKey: key() }, tx);
      throw new Error('the payment handler failed after crediting');
    }).catch((e) => e);
    expect(err.message).to.match(/handler failed/);
    expect((await points.balance(u.id)).balance).to.equal(0);
  });

  describe('over HTTP (/point)', () => {
    it('shows the balance, pages the ledger by cursor, sums it by type, and refuses a cursor it did not issue', async () => {
      const u = await newUser(node);
      await points.credit(u.id, { amount: 300, idempotencyKey: key() });
      for (let i = 0; i < 5; i++) await points.spend(u.id, { amount: 10, idempotencyKey: key(), description: `spend ${i}` });
      const balance = await request(node, 'GET', '/point/balance', { token: u.accessToken });
      expect(balance.body).to.deep.equal({ balance: 250, debt: 0, totalCredited: 300, totalSpent: 50 });
      const first = await request(node, 'GET', '/point/transactions?limit=4', { token: u.accessToken });
      expect(first.body.items.map((e: { amount: number }) => e.amount)).to.deep.equal([-10, -10, -10, -10]);
      expect(first.body.items[0]).to.include({ type: 'spend', balanceAfter: 250, description: 'spend 4' });
      const second = await request(node, 'GET', `/point/transactions?limit=4&cursor=${first.body.nextCursor}`, { token: u.accessToken });
      expect(second.body.items.map((e: { type: string }) => e.type)).to.deep.equal(['spend', 'credit']);
      expect(second.body.nextCursor).to.equal(null);
      const credits = await request(node, 'GET', '/point/transactions?type=credit', { token: u.accessToken });
      expect(credits.body.items).to.have.length(1);
      const forged = Buffer.from(JSON.stringify({ before: '-1' })).toString('base64url');
      const bad = await request(node, 'GET', `/point/transactions?cursor=${forged}`, { token: u.accessToken });
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('invalid_cursor');
      const summary = await request(node, 'GET', '/point/summary', { token: u.accessToken });
      expect(summary.status).to.equal(200);
      expect(summary.body).to.deep.include({ credited: 300, spent: 50 });
      expect(summary.body.byType.spend).to.deep.equal({ count: 5, total: -50 });
      const reversed = await request(node, 'GET', '/point/summary?from=2030-01-02&to=2030-01-01', { token: u.accessToken });
      expect(reversed.status).to.equal(400);
      expect(reversed.body.errors[0].field).to.equal('from');
    });

    it('POST /point/use: admins only, once per Idempotency-Key, 402 when the balance does not cover it', async () => {
      const u = await newUser(node);
      await points.credit(u.id, { amount: 100, idempotencyKey: key() });
      const admin = await newUser(node);
      await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
      const use = (token: string, body: object, idem = key()) => request(node, 'POST', '/point/use', { token, body, headers: { 'idempotency-key': idem } });
      expect((await use(u.accessToken, { userId: u.id, amount: 10 })).status).to.equal(403);
      const idem = key();
      const first = await use(admin.accessToken, { userId: u.id, amount: 60, description: '운영 조정' }, idem);
      expect(first.status).to.equal(200);
      expect(first.body.entry).to.include({ type: 'spend', amount: -60, balanceAfter: 40 });
      expect((await use(admin.accessToken, { userId: u.id, amount: 60, description: '운영 조정' }, idem)).headers.get('idempotent-replayed')).to.equal('true');
      const over = await use(admin.accessToken, { userId: u.id, amount: 41 });
      expect(over.status).to.equal(402);
      expect(over.body).to.include({ code: 'insufficient_points', balance: 40, required: 41 });
      expect((await use(admin.accessToken, { userId: u.id, amount: 0 })).body.errors[0].field).to.equal('amount');
      expect((await points.balance(u.id)).balance).to.equal(40);
    });
  });
});
