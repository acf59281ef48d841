// The OFFLINE coach checkout sandbox: a checkout shows its price and is decided once.
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('coach: the OFFLINE sandbox checkout is single-use', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  const checkout = async (u: TestUser, tier = 'basic') => {
    const res = await request(node, 'POST', '/billing/initiate', { token: u.accessToken, body: { tier } });
    expect(res.status).to.equal(201);
    return `/sandbox/coach-checkout/${res.body.checkoutId}`;
  };
  const plan = async (u: TestUser) => (await request(node, 'GET', '/billing/subscription', { token: u.accessToken })).body;
  const purchases = async (u: TestUser) => {
    const rows = await node.ctx.db.orm.em.fork().execute<{ n: number }[]>(
      `select count(*)::int as n from webhook_events where provider = 'revenuecat' and event_type = 'INITIAL_PURCHASE' and payload->'event'->>'app_user_id' = ?`, [u.id]);
    return rows[0].n;
  };

  it('shows the tier\'s price, and refuses a second Approve or a Decline after it with 409 checkout_settled', async () => {
    const u = await newUser(node);
    const path = await checkout(u, 'basic_special');
    const page = await request(node, 'GET', path);
    expect(page.body).to.include('9,900원').and.to.include('Basic Special').and.to.include(`${path}/approve`);

    const approved = await request(node, 'POST', `${path}/approve`);
    expect(approved.status).to.equal(200);
    expect(approved.body).to.include('Webhook delivered: HTTP 200').and.to.include('9,900원');
    const bought = await plan(u);
    expect(bought.planTier).to.equal('basic_special');

    for (const again of ['approve', 'decline']) {
      const res = await request(node, 'POST', `${path}/${again}`);
      expect(res.status, again).to.equal(409);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(res.body).to.include({ code: 'checkout_settled', checkoutStatus: 'approved' });
    }
    // Nothing was bought again: the plan's period did not move and one purchase reached the webhook.
    expect(await plan(u)).to.deep.equal(bought);
    expect(await purchases(u)).to.equal(1);

    // A browser posting the form again gets a page that says so, with the same status and code.
    const inBrowser = await request(node, 'POST', `${path}/decline`, { headers: { accept: BROWSER_ACCEPT } });
    expect(inBrowser.status).to.equal(409);
    expect(inBrowser.headers.get('content-type')).to.match(/text\/html/);
    expect(inBrowser.body).to.include('already approved').and.to.include('checkout_settled').and.not.to.include('취소되었습니다');
    // And the checkout page offers no buttons any more.
    const settled = await request(node, 'GET', path);
    expect(settled.body).to.include('already settled (approved)').and.not.to.include(`${path}/approve`);
  });

  it('a declined checkout cannot be approved afterwards', async () => {
    const u = await newUser(node);
    const path = await checkout(u);
    const declined = await request(node, 'POST', `${path}/decline`);
    expect(declined.status).to.equal(200);
    expect(declined.body).to.include('4,900원');
    const approve = await request(node, 'POST', `${path}/approve`);
    expect(approve.status).to.equal(409);
    expect(approve.body).to.include({ code: 'checkout_settled', checkoutStatus: 'declined' });
    expect((await plan(u)).planTier).to.equal('free');
    expect(await purchases(u)).to.equal(0);
  });

  it('lets one of two concurrent Approves through', async () => {
    const u = await newUser(node);
    const path = await checkout(u);
    const results = await Promise.all([request(node, 'POST', `${path}/approve`), request(node, 'POST', `${path}/approve`)]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409]);
    expect(await purchases(u)).to.equal(1);
    expect((await plan(u)).planTier).to.equal('basic');
  });

  it('answers 404 for a checkout that does not exist', async () => {
    const res = await request(node, 'POST', `/sandbox/coach-checkout/${crypto.randomUUID()}/approve`);
    expect(res.status).to.equal(404);
  });
});
