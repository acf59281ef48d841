// Walk premium against the Toss fake over the real Toss client: checkout → card registration →
// billing key and the first month; renewal by the cron job a month later (test clock), failed
// renewals retried on days 1, 3 and 7 then expired; cancel at the period end and resume; two nodes
// running the renewal job at once charge once; the same billing-key call twice (and at once)
// charges once; store changes (applyStoreChange: duplicate, stale, unknown user); the premium gate's
// effects (the 90-day history window, adFree, badge rarity); bad input; and the offline sandbox.
import { expect } from 'chai';
import { walkModule } from '../../modules/walk/index.ts';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import type { StoreChange } from '../../services/walk/subscription.ts';
import { startFakeToss, type FakeToss } from '../fakes/toss.ts';
import { newUser, request, runCronJob, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const DAY = 86_400_000;
// The 31st: a month later is the 28th of February, and the anniversary comes back on the 31st of March.
const START = '2026-01-31T12:00:00+09:00';
const SECRET = 'test_sk_walk_premium';

describe('walk: premium subscriptions', function () {
  this.timeout(60_000);
  const clock = createTestClock(START);
  let toss: FakeToss;
  let node: ApiNode;
  let second: ApiNode;
  const env = () => ({ TOSS_SECRET_KEY: SECRET, TOSS_CLIENT_KEY: 'test_ck_walk_premium', TOSS_BASE_URL: toss.url, PAYMENTS_TIMEOUT_MS: '2000', WALK_PREMIUM_MONTHLY_KRW: '4900' });
  before(async () => {
    toss = await startFakeToss({ secretKey: SECRET });
    node = await startNode(env(), clock);
    // A second API node on the same database and clock: its cron job races the first's.
    second = await startNode(env(), clock);
  });
  after(async () => {
    await stopAllNodes();
    await toss.close();
  });

  const db = () => node.ctx.db.orm.em.fork();
  const walk = () => moduleServices(node.services, walkModule);
  const runRenewals = (n: ApiNode = node) => runCronJob(n, 'walk-subscription-renewals');
  const post = (u: TestUser, path: string, body?: unknown) => request(node, 'POST', path, { token: u.accessToken, body });
  const stateOf = async (u: TestUser) => {
    const res = await request(node, 'GET', '/walk/subscription', { token: u.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const tossSub = async (u: TestUser) => (await stateOf(u)).subscriptions.find((s: { provider: string }) => s.provider === 'toss_billing');
  // Attempts to charge this customer's card (approved or not), as Toss saw them.
  const attempts = (customerKey: string) => toss.requests.filter((r) => r.method === 'POST' && /^\/v1\/billing\/bk_/.test(r.path) && r.json?.customerKey === customerKey);

  // Checkout, the card registered in Toss's window (the fake hands out the authKey), then the billing key.
  async function subscribe(u: TestUser): Promise<{ customerKey: string; authKey: string; res: Awaited<ReturnType<typeof request>> }> {
    const checkout = await post(u, '/walk/subscription/checkout');
    expect(checkout.status, JSON.stringify(checkout.body)).to.equal(200);
    const { customerKey } = checkout.body;
    const authKey = `auth_${crypto.randomUUID()}`;
    toss.authorizeBilling({ authKey, customerKey });
    const res = await post(u, '/walk/subscription/billing-key', { authKey, customerKey });
    return { customerKey, authKey, res };
  }

  async function notices(userId: string, count: number): Promise<Record<string, unknown>[]> {
    const rows = await settled(() => db().execute<{ data: Record<string, unknown> }[]>(
      `select data from notifications where user_id = ? and type = 'walk.subscription' order by created_at`, [userId]), (r) => r.length >= count);
    return rows.map((r) => r.data);
  }

  it('subscribes through Toss: the billing key is kept sealed, the first month is charged at once, premium runs to the period end', async () => {
    const u = await newUser(node);
    const before = await stateOf(u);
    expect(before).to.deep.include({ premium: false, premiumUntil: null, subscriptions: [] });
    expect(before.features).to.deep.equal({ adFree: false, historyDays: 90, badgeRarity: false });
    expect(before.plan).to.deep.include({ amount: 4900, currency: 'KRW', interval: 'month' });

    const checkout = await post(u, '/walk/subscription/checkout');
    expect(checkout.body).to.deep.include({ provider: 'toss', amount: 4900, offline: false });
    expect(checkout.body.billingAuth).to.deep.include({ clientKey: 'test_ck_walk_premium', customerKey: checkout.body.customerKey });

    const { customerKey, authKey, res } = await subscribe(u);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ premium: true, premiumUntil: '2026-02-28T12:00:00+09:00' });
    expect(res.body.features).to.deep.equal({ adFree: true, historyDays: null, badgeRarity: true });
    expect(res.body.subscriptions[0]).to.deep.include({ provider: 'toss_billing', status: 'active', renews: true, retrying: false, amount: 4900, nextChargeAt: '2026-02-28T12:00:00+09:00' });
    const charges = toss.billingCharges(customerKey);
    expect(charges.map((c) => [c.totalAmount, c.status])).to.deep.equal([[4900, 'DONE']]);
    // The issue call carried the authKey and our customerKey with the secret key's Basic auth.
    const issue = toss.requests.find((r) => r.path === '/v1/billing/authorizations/issue' && r.json?.authKey === authKey)!;
    expect(issue.json).to.deep.equal({ authKey, customerKey });
    expect(issue.headers.authorization).to.equal(`Basic ${Buffer.from(`${SECRET}:`).toString('base64')}`);

    // Sealed at rest: the row holds no billing key in the clear.
    const [row] = await db().execute<{ billing_key_sealed: string }[]>(`select billing_key_sealed from subscriptions where user_id = ? and provider = 'toss_billing'`, [u.id]);
    const billingKey = toss.requests.find((r) => /^\/v1\/billing\/bk_/.test(r.path) && r.json?.customerKey === customerKey)!.path.split('/').pop()!;
    expect(row.billing_key_sealed).to.match(/^v1\./).and.not.include(billingKey);

    // The profile shows it, from the same transaction.
    const profile = await request(node, 'GET', '/walk/profile', { token: u.accessToken });
    expect(profile.body).to.deep.include({ premium: true, premiumUntil: '2026-02-28T12:00:00+09:00', adFree: true });

    // The same billing-key call again: the state, nothing charged again.
    const again = await post(u, '/walk/subscription/billing-key', { authKey, customerKey });
    expect(again.status, JSON.stringify(again.body)).to.equal(200);
    expect(again.body.premiumUntil).to.equal('2026-02-28T12:00:00+09:00');
    expect(toss.billingCharges(customerKey)).to.have.length(1);
    // A second checkout while the subscription renews is refused.
    expect((await post(u, '/walk/subscription/checkout')).body.code).to.equal('already_subscribed');
  });

  it('takes the same billing-key call made twice at once as one subscribe, charged once', async () => {
    const u = await newUser(node);
    const { customerKey } = (await post(u, '/walk/subscription/checkout')).body;
    const authKey = `auth_${crypto.randomUUID()}`;
    toss.authorizeBilling({ authKey, customerKey });
    const both = await Promise.all([0, 1].map(() => post(u, '/walk/subscription/billing-key', { authKey, customerKey })));
    // One subscribes (201); the other finds it done (200) or still under way (409 subscribe_in_progress).
    const [winner, other] = [...both].sort((x, y) => Math.abs(x.status - 201) - Math.abs(y.status - 201));
    expect(winner.status, JSON.stringify(both.map((r) => [r.status, r.body.code]))).to.equal(201);
    expect([200, 409]).to.include(other.status);
    expect(toss.billingCharges(customerKey)).to.have.length(1);
    expect((await stateOf(u)).premium).to.equal(true);
    const [{ n }] = await db().execute<{ n: string }[]>(`select count(*) as n from walk_subscription_charges where user_id = ?`, [u.id]);
    expect(Number(n)).to.equal(1);
  });

  it('refuses a declined first charge (402, no premium) and an authKey Toss does not know (400 naming authKey)', async () => {
    const u = await newUser(node);
    const { customerKey } = (await post(u, '/walk/subscription/checkout')).body;
    toss.declineCharges(customerKey, 'REJECT_CARD_COMPANY');
    const authKey = `auth_${crypto.randomUUID()}`;
    toss.authorizeBilling({ authKey, customerKey });
    const res = await post(u, '/walk/subscription/billing-key', { authKey, customerKey });
    expect(res.status, JSON.stringify(res.body)).to.equal(402);
    expect(res.body).to.deep.include({ code: 'payment_declined', providerCode: 'REJECT_CARD_COMPANY' });
    expect((await stateOf(u)).premium).to.equal(false);
    // The same call again answers the same, and Toss is not asked again.
    const before = attempts(customerKey).length;
    expect((await post(u, '/walk/subscription/billing-key', { authKey, customerKey })).status).to.equal(402);
    expect(attempts(customerKey)).to.have.length(before);

    const unknown = await post(u, '/walk/subscription/billing-key', { authKey: 'auth_never_issued', customerKey });
    expect(unknown.status, JSON.stringify(unknown.body)).to.equal(400);
    expect(unknown.body.code).to.equal('billing_auth_failed');
    expect(unknown.body.errors[0].field).to.equal('authKey');
  });

  it('refuses bad input naming the field', async () => {
    const u = await newUser(node);
    const { customerKey } = (await post(u, '/walk/subscription/checkout')).body;
    const missing = await post(u, '/walk/subscription/billing-key', { customerKey });
    expect(missing.status).to.equal(400);
    expect(missing.body.errors[0].field).to.equal('authKey');
    const nul = await post(u, '/walk/subscription/billing-key', { authKey: 'a\u0000b', customerKey });
    expect(nul.status).to.equal(400);
    expect(nul.body.errors[0].field).to.equal('authKey');
    const notMine = await post(u, '/walk/subscription/billing-key', { authKey: 'auth_x', customerKey: 'wcus_someone_else' });
    expect(notMine.status).to.equal(400);
    expect(notMine.body).to.deep.include({ code: 'invalid_customer_key' });
    expect(notMine.body.errors[0].field).to.equal('customerKey');
    expect((await post(u, '/walk/subscription/billing-key', 'nonsense')).status).to.equal(400);
    expect((await post(u, '/walk/subscription/cancel')).body.code).to.equal('not_subscribed');
    expect((await post(u, '/walk/subscription/resume')).body.code).to.equal('nothing_to_resume');
    expect((await request(node, 'GET', '/walk/subscription')).status).to.equal(401);
  });

  it('renews by cron when the period ends, on the anniversary, and two nodes running the job at once charge once', async () => {
    clock.set(START);
    const u = await newUser(node);
    const { customerKey } = await subscribe(u);
    // Before the end nothing is due.
    clock.set(Date.parse(START) + 27 * DAY);
    await Promise.all([runRenewals(node), runRenewals(second)]);
    expect(toss.billingCharges(customerKey)).to.have.length(1);

    clock.set('2026-02-28T12:30:00+09:00');
    await Promise.all([runRenewals(node), runRenewals(second), runRenewals(node)]);
    const charges = toss.billingCharges(customerKey);
    expect(charges.map((c) => c.totalAmount)).to.deep.equal([4900, 4900]);
    const [sub] = await db().execute<{ id: string }[]>(`select id from subscriptions where user_id = ? and provider = 'toss_billing'`, [u.id]);
    expect(charges[1].orderId).to.equal(`wsr_${sub.id.replaceAll('-', '')}_2_0`);
    const state = await stateOf(u);
    // The second period ends on the anniversary (the 31st), not a month after the 28th.
    expect(state).to.deep.include({ premium: true, premiumUntil: '2026-03-31T12:00:00+09:00' });
    expect(state.subscriptions[0]).to.deep.include({ status: 'active', nextChargeAt: '2026-03-31T12:00:00+09:00', retrying: false });
    // Only one charge attempt reached Toss for the renewal.
    expect(attempts(customerKey)).to.have.length(2);
    await runRenewals(second);
    expect(toss.billingCharges(customerKey)).to.have.length(2);
  });

  it('leaves a renewal Toss could not be reached for to the next run, under the same orderId, and finishes a charge a dead node left claimed without charging twice', async () => {
    clock.set(START);
    const u = await newUser(node);
    const { customerKey } = await subscribe(u);
    const [sub] = await db().execute<{ id: string }[]>(`select id from subscriptions where user_id = ? and provider = 'toss_billing'`, [u.id]);
    const orderId = `wsr_${sub.id.replaceAll('-', '')}_2_0`;

    // Toss answers 500 to the call and both of the client's retries: nothing charged, nothing moved.
    clock.set('2026-02-28T12:10:00+09:00');
    toss.failNext(3);
    await runRenewals();
    expect(toss.billingCharges(customerKey)).to.have.length(1);
    expect(await tossSub(u)).to.deep.include({ status: 'active', retrying: false, currentPeriodEnd: '2026-02-28T12:00:00+09:00' });
    const [claim] = await db().execute<{ status: string }[]>(`select status from walk_subscription_charges where order_id = ?`, [orderId]);
    expect(claim.status).to.equal('pending');
    // The next run takes the released claim and charges the same order.
    await runRenewals();
    expect(toss.billingCharges(customerKey).map((c) => c.orderId)).to.deep.equal([toss.billingCharges(customerKey)[0].orderId, orderId]);
    expect(await tossSub(u)).to.deep.include({ currentPeriodEnd: '2026-03-31T12:00:00+09:00' });

    // A node that died after Toss charged, before it recorded the charge: the claim is pending and
    // old, the subscription not moved. The next run retakes it, charges the same orderId, and Toss's
    // answer for that order (its payment, not a second one) settles it.
    await db().execute(`update walk_subscription_charges set status = 'pending', payment_key = null, settled_at = null, claimed_at = now() - interval '10 minutes' where order_id = ?`, [orderId]);
    await db().execute(`update subscriptions set periods_paid = 1, current_period_end = '2026-02-28T12:00:00+09:00', next_charge_at = '2026-02-28T12:00:00+09:00' where id = ?`, [sub.id]);
    await runRenewals();
    expect(toss.billingCharges(customerKey)).to.have.length(2);
    expect(await tossSub(u)).to.deep.include({ status: 'active', currentPeriodEnd: '2026-03-31T12:00:00+09:00' });
    const [settled] = await db().execute<{ status: string; payment_key: string }[]>(`select status, payment_key from walk_subscription_charges where order_id = ?`, [orderId]);
    expect(settled).to.deep.equal({ status: 'paid', payment_key: toss.billingCharges(customerKey)[1].paymentKey });

    // The same once Toss has forgotten the Idempotency-Key: it refuses the orderId as a duplicate,
    // and the payment it holds under that orderId (looked up) settles the claim.
    toss.forgetIdempotencyKeys();
    await db().execute(`update walk_subscription_charges set status = 'pending', payment_key = null, settled_at = null, claimed_at = now() - interval '10 minutes' where order_id = ?`, [orderId]);
    await db().execute(`update subscriptions set periods_paid = 1, current_period_end = '2026-02-28T12:00:00+09:00', next_charge_at = '2026-02-28T12:00:00+09:00' where id = ?`, [sub.id]);
    await runRenewals();
    expect(toss.billingCharges(customerKey)).to.have.length(2);
    expect(toss.requests.some((r) => r.method === 'GET' && r.path === `/v1/payments/orders/${orderId}`)).to.equal(true);
    expect(await tossSub(u)).to.deep.include({ status: 'active', currentPeriodEnd: '2026-03-31T12:00:00+09:00' });
    const [again] = await db().execute<{ status: string; payment_key: string }[]>(`select status, payment_key from walk_subscription_charges where order_id = ?`, [orderId]);
    expect(again).to.deep.equal({ status: 'paid', payment_key: toss.billingCharges(customerKey)[1].paymentKey });
  });

  it('retries a failed renewal on days 1, 3 and 7 after it was due, keeping premium meanwhile, then expires it and tells the user', async () => {
    clock.set(START);
    const u = await newUser(node);
    const { customerKey } = await subscribe(u);
    toss.declineCharges(customerKey, 'INVALID_CARD_EXPIRATION');
    const due = Date.parse('2026-02-28T12:00:00+09:00');

    clock.set(due + 60_000);
    await runRenewals();
    let sub = await tossSub(u);
    expect(sub).to.deep.include({ status: 'active', retrying: true, nextChargeAt: '2026-03-01T12:00:00+09:00', graceUntil: '2026-03-08T12:00:00+09:00' });
    expect((await stateOf(u)).premium, 'premium kept while retrying').to.equal(true);
    expect((await notices(u.id, 1))[0]).to.deep.include({ event: 'payment_failed', reason: 'INVALID_CARD_EXPIRATION', attempt: 1 });

    // Between retry days nothing is tried.
    clock.set(due + 0.5 * DAY);
    await runRenewals();
    expect(attempts(customerKey)).to.have.length(2);

    const expected = [['2026-03-03T12:00:00+09:00', 3], ['2026-03-07T12:00:00+09:00', 4]] as const;
    for (const [i, day] of [1, 3].entries()) {
      clock.set(due + day * DAY + 60_000);
      await runRenewals();
      sub = await tossSub(u);
      expect(sub).to.deep.include({ status: 'active', retrying: true, nextChargeAt: expected[i][0] });
      expect(attempts(customerKey)).to.have.length(expected[i][1]);
      expect((await stateOf(u)).premium).to.equal(true);
    }
    clock.set(due + 7 * DAY + 60_000);
    await runRenewals();
    sub = await tossSub(u);
    expect(sub).to.deep.include({ status: 'expired', renews: false, nextChargeAt: null, graceUntil: null });
    expect(attempts(customerKey)).to.have.length(5);
    const state = await stateOf(u);
    expect(state.premium).to.equal(false);
    expect((await request(node, 'GET', '/walk/profile', { token: u.accessToken })).body).to.deep.include({ premium: false, adFree: false });
    const told = await notices(u.id, 4);
    expect(told.map((d) => d.event)).to.deep.equal(['payment_failed', 'payment_failed', 'payment_failed', 'expired']);
    // Each attempt had its own orderId.
    const orders = attempts(customerKey).slice(1).map((r) => r.json.orderId);
    expect(new Set(orders).size).to.equal(4);
    // Expired: the next run charges nothing.
    clock.set(due + 40 * DAY);
    await runRenewals();
    expect(attempts(customerKey)).to.have.length(5);
  });

  it('renews on a retry day once the card works again, keeping the anniversary', async () => {
    clock.set(START);
    const u = await newUser(node);
    const { customerKey } = await subscribe(u);
    toss.declineCharges(customerKey, 'EXCEED_MAX_DAILY_PAYMENT_COUNT');
    const due = Date.parse('2026-02-28T12:00:00+09:00');
    clock.set(due + 60_000);
    await runRenewals();
    toss.declineCharges(customerKey, null);
    clock.set(due + DAY + 60_000);
    await runRenewals();
    expect(await tossSub(u)).to.deep.include({ status: 'active', retrying: false, graceUntil: null, currentPeriodEnd: '2026-03-31T12:00:00+09:00' });
    expect(toss.billingCharges(customerKey)).to.have.length(2);
  });

  it('cancels at the period end (premium until then, nothing charged after), and resumes before it', async () => {
    clock.set(START);
    const a = await newUser(node);
    const b = await newUser(node);
    const sa = await subscribe(a);
    const sb = await subscribe(b);

    const cancelled = await post(a, '/walk/subscription/cancel');
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    expect(cancelled.body).to.deep.include({ premium: true, premiumUntil: '2026-02-28T12:00:00+09:00' });
    expect(cancelled.body.subscriptions[0]).to.deep.include({ status: 'cancelled', renews: false, nextChargeAt: null });
    expect((await post(a, '/walk/subscription/cancel')).status, 'cancelling again changes nothing').to.equal(200);
    // Subscribing anew while the cancelled one runs would charge for days already paid: resume instead.
    expect((await post(a, '/walk/subscription/checkout')).body.code).to.equal('resume_instead');

    expect((await post(b, '/walk/subscription/cancel')).status).to.equal(200);
    clock.set(Date.parse(START) + 10 * DAY);
    const resumed = await post(b, '/walk/subscription/resume');
    expect(resumed.status, JSON.stringify(resumed.body)).to.equal(200);
    expect(resumed.body.subscriptions[0]).to.deep.include({ status: 'active', renews: true, nextChargeAt: '2026-02-28T12:00:00+09:00' });

    clock.set('2026-02-28T12:00:01+09:00');
    await runRenewals();
    expect(await tossSub(a)).to.deep.include({ status: 'expired' });
    expect((await stateOf(a)).premium).to.equal(false);
    expect(toss.billingCharges(sa.customerKey)).to.have.length(1);
    expect(await tossSub(b)).to.deep.include({ status: 'active', currentPeriodEnd: '2026-03-31T12:00:00+09:00' });
    expect(toss.billingCharges(sb.customerKey)).to.have.length(2);
    // Too late to resume: subscribe again.
    expect((await post(a, '/walk/subscription/resume')).body.code).to.equal('nothing_to_resume');
    const again = await subscribe(a);
    expect(again.res.status, JSON.stringify(again.res.body)).to.equal(201);
    expect(again.res.body).to.deep.include({ premium: true, premiumUntil: '2026-03-28T12:00:01+09:00' });
  });

  it('applies store changes once each, in event order, for known users only, and they feed the premium gate', async () => {
    clock.set(START);
    const u = await newUser(node);
    const now = clock.now().getTime();
    const change = (over: Partial<StoreChange>): StoreChange => ({
      userId: u.id, provider: 'app_store', productId: 'walk.premium.monthly', externalId: '2000000123456789', status: 'active',
      periodEnd: new Date(now + 30 * DAY), eventId: crypto.randomUUID(), eventAt: new Date(now), environment: 'Sandbox', ...over,
    });
    const subs = walk().subscription;
    expect(await subs.applyStoreChange(change({ userId: crypto.randomUUID() }))).to.equal('unknown_user');
    expect(await subs.applyStoreChange(change({ userId: 'not-a-uuid' }))).to.equal('unknown_user');

    const first = change({});
    expect(await subs.applyStoreChange(first)).to.equal('applied');
    expect(await subs.applyStoreChange(first)).to.equal('duplicate');
    let state = await stateOf(u);
    expect(state).to.deep.include({ premium: true, premiumUntil: '2026-03-02T12:00:00+09:00' });
    expect(state.subscriptions[0]).to.deep.include({ provider: 'app_store', status: 'active', environment: 'Sandbox' });
    expect((await request(node, 'GET', '/walk/profile', { token: u.accessToken })).body).to.deep.include({ premium: true, adFree: true, premiumUntil: '2026-03-02T12:00:00+09:00' });

    // An older event than the one applied changes nothing.
    expect(await subs.applyStoreChange(change({ status: 'expired', eventAt: new Date(now - 60_000) }))).to.equal('stale');
    expect((await stateOf(u)).premium).to.equal(true);
    // Auto-renew off: premium until the period end; then expired.
    expect(await subs.applyStoreChange(change({ status: 'cancelled', eventAt: new Date(now + 1000) }))).to.equal('applied');
    state = await stateOf(u);
    expect(state.premium).to.equal(true);
    expect(state.subscriptions[0]).to.deep.include({ status: 'cancelled', renews: false });
    expect(await subs.applyStoreChange(change({ status: 'expired', eventAt: new Date(now + 2000) }))).to.equal('applied');
    // A period end in the past grants nothing even if the status says otherwise at that time.
    expect(await subs.applyStoreChange(change({ status: 'expired', periodEnd: new Date(now - DAY), eventAt: new Date(now + 3000) }))).to.equal('applied');
    expect((await stateOf(u)).premium).to.equal(false);
    expect((await request(node, 'GET', '/walk/profile', { token: u.accessToken })).body).to.deep.include({ premium: false, adFree: false });

    // Google Play next to it: the gate takes the latest access of any provider.
    expect(await subs.applyStoreChange(change({ provider: 'google_play', productId: 'premium_monthly', externalId: 'purchase-token-1', periodEnd: new Date(now + 5 * DAY), eventAt: new Date(now) }))).to.equal('applied');
    expect((await stateOf(u)).premiumUntil).to.equal('2026-02-05T12:00:00+09:00');
    // Racing deliveries of one event: one applies, the other is a duplicate.
    const racing = change({ provider: 'google_play', productId: 'premium_monthly', externalId: 'purchase-token-1', periodEnd: new Date(now + 35 * DAY), eventAt: new Date(now + 5000) });
    expect((await Promise.all([subs.applyStoreChange(racing), subs.applyStoreChange(racing)])).sort()).to.deep.equal(['applied', 'duplicate']);
    // …also when it is the first event of that subscription (no row yet to lock).
    const fresh = change({ productId: 'walk.premium.yearly', externalId: '2000000999', eventAt: new Date(now + 6000) });
    expect((await Promise.all([subs.applyStoreChange(fresh), subs.applyStoreChange(fresh), subs.applyStoreChange(fresh)])).sort()).to.deep.equal(['applied', 'duplicate', 'duplicate']);
  });

  it('gates walk history (90 days for free walkers) and badge rarity by premium', async () => {
    clock.set('2026-06-15T12:00:00+09:00');
    const u = await newUser(node);
    const insertWalk = async (daysAgo: number) => {
      const id = crypto.randomUUID();
      const startedAt = new Date(clock.now().getTime() - daysAgo * DAY);
      const localDate = new Date(startedAt.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
      await db().execute(
        `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories,
                            point_count, route, min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, analysis, feed_score)
         values (?, ?, ?, ?, ?, ?::date, 12, 2000, 1800, 1700, 100, 10, '{"type":"LineString","coordinates":[]}', 37.5, 37.5, 127, 127, 37.5, 127, null, 90, true, '{}', 0)`,
        [id, u.id, id, startedAt, new Date(startedAt.getTime() + 1800_000), localDate]);
      return { id, month: localDate.slice(0, 7), localDate };
    };
    const recent = await insertWalk(10);
    const old = await insertWalk(120);
    const listed = async () => (await request(node, 'GET', '/walks?limit=50', { token: u.accessToken })).body;
    const calendar = async (month: string) => (await request(node, 'GET', `/walks/calendar?month=${month}`, { token: u.accessToken })).body;

    let page = await listed();
    expect(page.items.map((w: { id: string }) => w.id)).to.deep.equal([recent.id]);
    expect(page.historyFrom).to.equal('2026-03-17T12:00:00+09:00');
    expect((await calendar(old.month)).days).to.deep.equal([]);
    const badges = (await request(node, 'GET', '/badges', { token: u.accessToken })).body.items;
    expect(badges.every((b: { earnedShare: number | null }) => b.earnedShare === null)).to.equal(true);

    const applied = await walk().subscription.applyStoreChange({
      userId: u.id, provider: 'google_play', productId: 'premium_monthly', externalId: `token-${u.id}`, status: 'active',
      periodEnd: new Date(clock.now().getTime() + 30 * DAY), eventId: crypto.randomUUID(), eventAt: clock.now(), environment: 'Production',
    });
    expect(applied).to.equal('applied');
    page = await listed();
    expect(page.items.map((w: { id: string }) => w.id)).to.deep.equal([recent.id, old.id]);
    expect(page.historyFrom).to.equal(null);
    expect((await calendar(old.month)).days.map((d: { date: string }) => d.date)).to.deep.equal([old.localDate]);
    const premiumBadges = (await request(node, 'GET', '/badges', { token: u.accessToken })).body.items;
    expect(premiumBadges.every((b: { earnedShare: number | null }) => typeof b.earnedShare === 'number' && b.earnedShare >= 0 && b.earnedShare <= 1)).to.equal(true);
  });
});

describe('walk: premium subscriptions offline (the sandbox, no Toss keys)', function () {
  this.timeout(60_000);
  let node: ApiNode;
  before(async () => {
    node = await startNode({}, createTestClock(START));
  });
  after(stopAllNodes);

  it('lets a developer subscribe with the sandbox auth key, and declines with the other', async () => {
    const u = await newUser(node);
    const checkout = await request(node, 'POST', '/walk/subscription/checkout', { token: u.accessToken });
    expect(checkout.status, JSON.stringify(checkout.body)).to.equal(200);
    expect(checkout.body).to.deep.include({ provider: 'sandbox', offline: true });
    const { authKey, declineAuthKey } = checkout.body.billingAuth.sandbox;

    const declined = await request(node, 'POST', '/walk/subscription/billing-key', { token: u.accessToken, body: { authKey: declineAuthKey, customerKey: checkout.body.customerKey } });
    expect(declined.status, JSON.stringify(declined.body)).to.equal(402);
    const forged = await request(node, 'POST', '/walk/subscription/billing-key', { token: u.accessToken, body: { authKey: 'sbx_auth_approve_forged', customerKey: checkout.body.customerKey } });
    expect(forged.status).to.equal(400);
    expect(forged.body.errors[0].field).to.equal('authKey');

    const res = await request(node, 'POST', '/walk/subscription/billing-key', { token: u.accessToken, body: { authKey, customerKey: checkout.body.customerKey } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ premium: true, premiumUntil: '2026-02-28T12:00:00+09:00' });
    expect(res.body.subscriptions[0]).to.deep.include({ provider: 'toss_billing', environment: 'sandbox (offline)' });
  });
});
