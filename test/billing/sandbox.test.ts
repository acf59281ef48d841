// The OFFLINE payment sandbox: an order is decided once, and its pages say what happened.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('payments: the OFFLINE sandbox checkout is single-use', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ PAYMENTS_DEFAULT_PROVIDER: 'sandbox' });
  });
  after(stopAllNodes);

  const order = async () => {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.premium' }, headers: { 'idempotency-key': crypto.randomUUID() } });
    expect(res.status).to.equal(201);
    return { u, orderId: res.body.orderId as string };
  };

  it('refuses a Decline after an Approve with 409 checkout_settled, and the order stays paid', async () => {
    const { u, orderId } = await order();
    expect((await request(node, 'POST', `/sandbox/checkout/${orderId}/approve`)).body).to.include('Payment approved');
    const declined = await request(node, 'POST', `/sandbox/checkout/${orderId}/decline`);
    expect(declined.status).to.equal(409);
    expect(declined.body).to.include({ code: 'checkout_settled', checkoutStatus: 'paid' });
    expect((await request(node, 'GET', `/payments/orders/${orderId}`, { token: u.accessToken })).body.status).to.equal('paid');
    const page = await request(node, 'GET', `/sandbox/checkout/${orderId}`);
    expect(page.body).to.include('already settled (paid)').and.not.to.include('/decline');
  });

  it('titles racing clicks by the decision that stood', async () => {
    const { u, orderId } = await order();
    const [approve, decline] = await Promise.all([
      request(node, 'POST', `/sandbox/checkout/${orderId}/approve`),
      request(node, 'POST', `/sandbox/checkout/${orderId}/decline`),
    ]);
    const status = (await request(node, 'GET', `/payments/orders/${orderId}`, { token: u.accessToken })).body.status;
    expect(status).to.be.oneOf(['paid', 'failed']);
    const title = status === 'paid' ? 'Payment approved' : 'Payment declined';
    for (const r of [approve, decline]) {
      if (r.status === 200) expect(r.body).to.include(title);
      else expect(r.body.code).to.equal('checkout_settled');
    }
  });
});
