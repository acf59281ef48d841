import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { widgetSubscriptionChanges } from '../modules/widgets.ts';
import { startFakeRevenueCat, type FakeRevenueCat } from '../fakes/revenuecat.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('billing: RevenueCat subscriptions', () => {
  let node: ApiNode;
  let rc: FakeRevenueCat;
  const changes = widgetSubscriptionChanges;

  before(async () => {
    rc = await startFakeRevenueCat({ apiKey: 'sk_rc_test', webhookAuth: 'Bearer rc-webhook-auth', webhookSecret: 'rc-hmac-secret' });
    node = await startNode({
      REVENUECAT_API_KEY: 'sk_rc_test', REVENUECAT_BASE_URL: rc.url,
      REVENUECAT_WEBHOOK_AUTH: 'Bearer rc-webhook-auth', REVENUECAT_WEBHOOK_SECRET: 'rc-hmac-secret',
      // The subscriptions belong to the test module, whose handler records every change.
      REVENUECAT_MODULE: 'widgets',
    });
  });
  after(async () => {
    await stopAllNodes();
    await rc.close();
  });

  const send = (event: Record<string, unknown>, opts?: { authorization?: string; secret?: string }) => {
    const d = rc.webhook(event, opts);
    return request(node, 'POST', '/webhooks/revenuecat', { raw: d.body, headers: d.headers });
  };
  const event = (userId: string, type: string, extra: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(), type, app_user_id: userId, product_id: 'coach_basic_monthly', entitlement_ids: ['basic'],
    event_timestamp_ms: Date.now(), expiration_at_ms: Date.now() + 1000, environment: 'SANDBOX', ...extra,
  });
  const subscription = async (userId: string) =>
    (await node.ctx.db.orm.em.fork().execute<{ status: string; current_period_end: string }[]>('select status, current_period_end from subscriptions where user_id = ?', [userId]))[0];

  it('activates on a purchase with the period end from the RevenueCat API, not the webhook body', async () => {
    const u = await newUser(node);
    const periodEnd = new Date(Date.now() + 30 * 86_400_000).toISOString();
    rc.setSubscription(u.id, 'coach_basic_monthly', periodEnd);
    const res = await send(event(u.id, 'INITIAL_PURCHASE'));
    expect(res.status).to.equal(200);
    expect(res.body.outcome).to.equal('active');
    const sub = await subscription(u.id);
    expect(sub.status).to.equal('active');
    expect(new Date(sub.current_period_end).toISOString()).to.equal(periodEnd);
    expect(rc.requests.some((r) => r.path === `/v1/subscribers/${u.id}`)).to.equal(true);
    expect(changes.filter((c) => c.userId === u.id).map((c) => c.status)).to.deep.equal(['active']);
  });

  it('keeps access after a cancellation until the period ends, and ends it on expiration', async () => {
    const u = await newUser(node);
    const periodEnd = new Date(Date.now() + 10 * 86_400_000).toISOString();
    rc.setSubscription(u.id, 'coach_basic_monthly', periodEnd);
    await send(event(u.id, 'INITIAL_PURCHASE', { event_timestamp_ms: Date.now() - 3000 }));
    await send(event(u.id, 'CANCELLATION', { event_timestamp_ms: Date.now() - 2000 }));
    expect((await subscription(u.id)).status).to.equal('cancelled');
    expect(new Date((await subscription(u.id)).current_period_end).toISOString()).to.equal(periodEnd);
    rc.setSubscription(u.id, 'coach_basic_monthly', new Date(Date.now() - 1000).toISOString());
    await send(event(u.id, 'EXPIRATION', { event_timestamp_ms: Date.now() - 1000 }));
    expect((await subscription(u.id)).status).to.equal('expired');
    expect(changes.filter((c) => c.userId === u.id).map((c) => c.status)).to.deep.equal(['active', 'cancelled', 'expired']);
  });

  it('ignores a redelivered event and an older event arriving late', async () => {
    const u = await newUser(node);
    rc.setSubscription(u.id, 'coach_basic_monthly', new Date(Date.now() + 86_400_000).toISOString());
    const renewal = event(u.id, 'RENEWAL');
    expect((await send(renewal)).body.outcome).to.equal('active');
    expect((await send(renewal)).body).to.include({ duplicate: true });
    const late = await send(event(u.id, 'CANCELLATION', { event_timestamp_ms: Date.now() - 60_000 }));
    expect(late.body.outcome).to.equal('stale');
    expect((await subscription(u.id)).status).to.equal('active');
  });

  it('refuses a wrong Authorization header or HMAC signature', async () => {
    const u = await newUser(node);
    const wrongAuth = await send(event(u.id, 'INITIAL_PURCHASE'), { authorization: 'Bearer guess' });
    expect(wrongAuth.status).to.equal(401);
    const wrongSig = await send(event(u.id, 'INITIAL_PURCHASE'), { secret: 'not-the-secret' });
    expect(wrongSig.status).to.equal(401);
    expect(await subscription(u.id)).to.equal(undefined);
  });

  it('records events for unknown users without failing the delivery', async () => {
    const res = await send(event(crypto.randomUUID(), 'INITIAL_PURCHASE'));
    expect(res.status).to.equal(200);
    expect(res.body.outcome).to.equal('unknown_user');
  });
});
