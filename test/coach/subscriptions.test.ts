import crypto from 'node:crypto';
import { expect } from 'chai';
import { retryCoachCheckouts } from '../../cron/coach/retryCheckouts.ts';
import type { ApiNode } from '../../server/node.ts';
import { startFakeRevenueCat, type FakeRevenueCat } from '../fakes/revenuecat.ts';
import { createTestClock } from '../../services/time.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser, coach } from '../helpers.ts';

const PURCHASE_LINK = 'https://pay.rev.cat/test_purchase_link';

describe('coach: subscriptions on RevenueCat', () => {
  let node: ApiNode;
  let rc: FakeRevenueCat;
  // The node decides expiries and retry times on this clock; each test starts it at the real time.
  const clock = createTestClock();
  const sql = <T = any>(q: string, params: unknown[] = []) => node.ctx.db.orm.em.fork().execute<T[]>(q, params);

  before(async () => {
    rc = await startFakeRevenueCat({ apiKey: 'sk_rc_test', webhookAuth: 'Bearer rc-webhook-auth', webhookSecret: 'rc-hmac-secret', v2ApiKey: 'sk_rc_v2', projectId: 'proj_coach' });
    node = await startNode({
      REVENUECAT_API_KEY: 'sk_rc_test', REVENUECAT_BASE_URL: rc.url,
      REVENUECAT_WEBHOOK_AUTH: 'Bearer rc-webhook-auth', REVENUECAT_WEBHOOK_SECRET: 'rc-hmac-secret',
      REVENUECAT_PURCHASE_LINK_URL: PURCHASE_LINK, REVENUECAT_PROJECT_ID: 'proj_coach', REVENUECAT_V2_API_KEY: 'sk_rc_v2',
    }, clock);
  });
  beforeEach(() => {
    clock.set(Date.now());
  });
  after(async () => {
    await stopAllNodes();
    await rc.close();
  });

  const webhook = (path: '/webhooks/revenuecat', event: Record<string, unknown>) => {
    const d = rc.webhook(event);
    return request(node, 'POST', path, { raw: d.body, headers: d.headers });
  };
  const event = (userId: string, type: string, extra: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(), type, app_user_id: userId, product_id: 'coach_basic_monthly', entitlement_ids: ['basic'],
    event_timestamp_ms: Date.now(), expiration_at_ms: null, environment: 'SANDBOX', ...extra,
  });
  const plan = async (u: TestUser) => (await request(node, 'GET', '/billing/subscription', { token: u.accessToken })).body;
  const retryMetric = async (outcome: string) => {
    const metric = await node.ctx.metrics.registry.getSingleMetric('payment_retry_total')!.get();
    return metric.values.find((v) => v.labels.module === 'coach' && v.labels.outcome === outcome)?.value ?? 0;
  };

  it('initiate creates the RevenueCat customer and returns its Web Purchase Link for the tier', async () => {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'basic_special' } });
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ status: 'created', offline: false, checkoutUrl: `${PURCHASE_LINK}/${u.id}?package_id=coach_basic_special_monthly` });
    const call = rc.requests.find((r) => r.path === `/v1/subscribers/${u.id}`)!;
    expect(call.method).to.equal('GET');
    expect(call.headers.authorization).to.equal('Bearer sk_rc_test');
    const [row] = await sql('select status, attempts, tier from billing_checkout_attempts where id = ?', [res.body.checkoutId]);
    expect(row).to.include({ status: 'created', attempts: 1, tier: 'basic_special' });
  });

  it('refuses an unknown tier with 400 naming the field', async () => {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'platinum' } });
    expect(res.status).to.equal(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).to.include('tier');
    expect((await request(node, 'POST', '/billing/initiate', { body: { tier: 'basic' } })).status).to.equal(401);
  });

  it('moves the plan: purchase → basic until the period end, cancellation keeps it, expiration → free', async () => {
    const u = await newUser(node);
    expect(await plan(u)).to.deep.equal({ planTier: 'free', planExpiresAt: null, cancelAtPeriodEnd: false });
    const periodEnd = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000);
    rc.setSubscription(u.id, 'coach_basic_monthly', periodEnd.toISOString());
    rc.setV2Subscription(u.id, { id: `sub_${u.id.slice(0, 8)}`, store: 'rc_billing', periodEndsAt: periodEnd.getTime() });

    const purchase = await webhook('/webhooks/revenuecat', event(u.id, 'INITIAL_PURCHASE', { event_timestamp_ms: Date.now() - 3000 }));
    expect(purchase.status).to.equal(200);
    expect(purchase.body.outcome).to.equal('active');
    const bought = await plan(u);
    expect(bought).to.include({ planTier: 'basic', cancelAtPeriodEnd: false });
    expect(new Date(bought.planExpiresAt).getTime()).to.equal(periodEnd.getTime());
    expect(bought.planExpiresAt).to.match(/\+09:00$/);
    expect((await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'basic' } })).status).to.equal(409);

    const cancel = await request(node, 'POST', '/billing/cancel', { token: u.accessToken });
    expect(cancel.status).to.equal(200);
    expect(cancel.body).to.include({ planTier: 'basic', cancelAtPeriodEnd: true, provider: 'provider' });
    const cancelCall = rc.requests.find((r) => r.method === 'POST' && r.path === `/v2/projects/proj_coach/subscriptions/sub_${u.id.slice(0, 8)}/actions/cancel`)!;
    expect(cancelCall.headers.authorization).to.equal('Bearer sk_rc_v2');
    expect((await sql('select outcome from coach_cancellations where user_id = ?', [u.id]))[0].outcome).to.equal('provider');

    // RevenueCat's CANCELLATION webhook follows, on the shared path: still basic until the period ends.
    const cancelled = await webhook('/webhooks/revenuecat', event(u.id, 'CANCELLATION', { event_timestamp_ms: Date.now() - 2000 }));
    expect(cancelled.body.outcome).to.equal('cancelled');
    expect(await plan(u)).to.include({ planTier: 'basic', cancelAtPeriodEnd: true });

    rc.setSubscription(u.id, 'coach_basic_monthly', new Date(Date.now() - 1000).toISOString());
    const expired = await webhook('/webhooks/revenuecat', event(u.id, 'EXPIRATION', { event_timestamp_ms: Date.now() - 1000 }));
    expect(expired.body.outcome).to.equal('expired');
    expect(await plan(u)).to.deep.equal({ planTier: 'free', planExpiresAt: null, cancelAtPeriodEnd: false });
    const [profile] = await sql('select plan_tier from coach_profiles where user_id = ?', [u.id]);
    expect(profile.plan_tier).to.equal('free');
    expect((await request(node, 'POST', '/billing/cancel', { token: u.accessToken })).status).to.equal(409);
  });

  it('maps an unknown product by its entitlement, and refuses a forged signature', async () => {
    const u = await newUser(node);
    rc.setSubscription(u.id, 'coach_special_yearly', new Date(Date.now() + 365 * 86_400_000).toISOString());
    await webhook('/webhooks/revenuecat', event(u.id, 'INITIAL_PURCHASE', { product_id: 'coach_special_yearly', entitlement_ids: ['basic_special'] }));
    expect((await plan(u)).planTier).to.equal('basic_special');
    const forged = rc.webhook(event(u.id, 'EXPIRATION', { product_id: 'coach_special_yearly' }), { secret: 'guess' });
    expect((await request(node, 'POST', '/webhooks/revenuecat', { raw: forged.body, headers: forged.headers })).status).to.equal(401);
    expect((await plan(u)).planTier).to.equal('basic_special');
  });

  it('counts a plan whose period has ended as free on the node\'s clock, before any expiration webhook', async () => {
    const u = await newUser(node);
    const periodEnd = new Date(Math.floor(clock.now().getTime() / 1000) * 1000 + 30 * 86_400_000);
    rc.setSubscription(u.id, 'coach_basic_monthly', periodEnd.toISOString());
    expect((await webhook('/webhooks/revenuecat', event(u.id, 'INITIAL_PURCHASE'))).body.outcome).to.equal('active');
    clock.set(periodEnd.getTime() - 1);
    expect(await plan(u)).to.include({ planTier: 'basic', cancelAtPeriodEnd: false });
    expect((await coach(node).plans.planFor(u.id)).tier).to.equal('basic');
    clock.set(periodEnd);
    expect(await plan(u)).to.deep.equal({ planTier: 'free', planExpiresAt: null, cancelAtPeriodEnd: false });
    expect((await coach(node).plans.planFor(u.id)).tier).to.equal('free');
  });

  it('retries a checkout RevenueCat could not create, at most twice, counting each retry', async () => {
    const u = await newUser(node);
    const job = retryCoachCheckouts(coach(node).subscriptions);
    const runJob = () => job.run({ em: node.ctx.db.orm.em.fork(), logger: node.ctx.logger, signal: new AbortController().signal });
    const hours = (n: number) => n * 3_600_000;
    const failedBefore = await retryMetric('failed');

    rc.failSubscriberRequests(1000);
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'basic' } });
    expect(res.status).to.equal(202);
    expect(res.body.status).to.equal('retrying');
    // COACH_CHECKOUT_RETRY_HOURS (6) on the node's clock, rendered to the second.
    expect(Date.parse(res.body.nextAttemptAt)).to.equal(Math.floor((clock.now().getTime() + hours(6)) / 1000) * 1000);
    const id = res.body.checkoutId;

    // Not due yet: the job leaves it alone until the clock reaches the retry time.
    expect(await runJob()).to.deep.include({ retried: 0 });
    clock.advance(hours(6) - 1);
    expect(await runJob()).to.deep.include({ retried: 0 });
    clock.advance(1);
    expect(await runJob()).to.deep.include({ retried: 1, failed: 0 });
    expect((await sql('select status, attempts from billing_checkout_attempts where id = ?', [id]))[0]).to.include({ status: 'retrying', attempts: 2 });
    clock.advance(hours(6));
    expect(await runJob()).to.deep.include({ retried: 1, failed: 1 });
    const [row] = await sql('select status, attempts, next_attempt_at, last_error from billing_checkout_attempts where id = ?', [id]);
    expect(row).to.include({ status: 'failed', attempts: 3, next_attempt_at: null, last_error: 'revenuecat_7110' });
    clock.advance(hours(24));
    expect(await runJob()).to.deep.include({ retried: 0 });
    expect((await retryMetric('failed')) - failedBefore).to.equal(2);
    rc.failSubscriberRequests(0);
  });

  it('notifies the user when a retried checkout finally succeeds', async () => {
    const u = await newUser(node);
    const succeededBefore = await retryMetric('succeeded');
    rc.failSubscriberRequests(3); // one attempt: the request and its two quick retries
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'basic' } });
    expect(res.status).to.equal(202);
    clock.advance(6 * 3_600_000);
    const outcome = await coach(node).subscriptions.retryDueCheckouts();
    expect(outcome).to.deep.include({ succeeded: 1 });
    expect((await retryMetric('succeeded')) - succeededBefore).to.equal(1);
    const inbox = await request(node, 'GET', '/notifications', { token: u.accessToken });
    const ready = inbox.body.items.find((n: { type: string }) => n.type === 'coach.checkout_ready');
    expect(ready.data).to.include({ checkoutId: res.body.checkoutId, checkoutUrl: `${PURCHASE_LINK}/${u.id}?package_id=coach_basic_monthly` });
    expect(ready.category).to.equal('payment');
  });
});

describe('coach: subscriptions on the OFFLINE sandbox checkout', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('checks out on a sandbox page whose Approve sends a signed RevenueCat webhook, and cancels the same way', async () => {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier: 'basic' } });
    expect(res.status).to.equal(201);
    expect(res.body.offline).to.equal(true);
    expect(res.body.checkoutUrl).to.equal(`${node.url}/sandbox/coach-checkout/${res.body.checkoutId}`);
    const page = await fetch(res.body.checkoutUrl);
    expect(await page.text()).to.include('OFFLINE SANDBOX');

    const approve = await fetch(`${res.body.checkoutUrl}/approve`, { method: 'POST' });
    expect(await approve.text()).to.include('Webhook delivered: HTTP 200');
    const bought = (await request(node, 'GET', '/billing/subscription', { token: u.accessToken })).body;
    expect(bought).to.include({ planTier: 'basic', cancelAtPeriodEnd: false });
    expect(Date.parse(bought.planExpiresAt) - Date.now()).to.be.greaterThan(29 * 86_400_000);
    const [sub] = await node.ctx.db.orm.em.fork().execute('select status, product_id from subscriptions where user_id = ?', [u.id]);
    expect(sub).to.include({ status: 'active', product_id: 'coach_basic_monthly' });

    const cancel = await request(node, 'POST', '/billing/cancel', { token: u.accessToken });
    expect(cancel.body).to.include({ planTier: 'basic', cancelAtPeriodEnd: true, provider: 'offline' });
    const [after] = await node.ctx.db.orm.em.fork().execute('select status from subscriptions where user_id = ?', [u.id]);
    expect(after.status).to.equal('cancelled');
  });
});
