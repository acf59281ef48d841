// /payments: products, orders, the Toss confirm callback, and refunds (admin).
import { z } from 'zod';
import type { Api, RouteResult } from '../server/http/route.ts';
import { withIdempotency } from '../services/billing/idempotency.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import { createOrderBody, orderDto, productDto, refundBody, tossConfirmBody } from '../services/billing/schemas.ts';
import type { Em } from '../services/transaction.ts';

const IDEMPOTENT = 'Requires an Idempotency-Key header: a retry with the same key replays the first response; the same key with other parameters is a 409.';

export function paymentRoutes(api: Api, deps: { payments: PaymentService; em: Em }): void {
  const replay = (r: { status: number; body: unknown; replayed: boolean }): RouteResult => ({
    status: r.status,
    body: r.body,
    headers: r.replayed ? { 'Idempotent-Replayed': 'true' } : {},
  });

  api.route({
    method: 'get', path: '/payments/products', summary: 'Products on sale, by module', tags: ['payments'], auth: 'none',
    query: z.object({ module: z.string().max(20).optional() }),
    responses: { 200: { description: 'Products', schema: z.object({ products: z.array(productDto) }) } },
    handler: async ({ query }) => ({ body: { products: await deps.payments.listProducts(query.module) } }),
  });

  api.route({
    method: 'post', path: '/payments/orders', summary: `Create an order for a product (the price is the product's). ${IDEMPOTENT}`, tags: ['payments'],
    auth: 'user', body: createOrderBody,
    responses: { 201: { description: 'Pending order with what the client needs to open the checkout', schema: orderDto }, 409: { description: 'Idempotency-Key reused with other parameters' } },
    handler: async ({ auth, body, ctx }) =>
      replay(await withIdempotency(deps.em, { userId: auth.userId, key: ctx.get('idempotency-key') || undefined, scope: 'POST /payments/orders', request: body }, async () => ({
        status: 201,
        body: await deps.payments.createOrder(auth.userId, body),
      }))),
  });

  api.route({
    method: 'get', path: '/payments/orders/:orderId', summary: 'One of my orders', tags: ['payments'], auth: 'user',
    params: z.object({ orderId: z.string().min(1).max(64) }),
    responses: { 200: { description: 'The order', schema: orderDto }, 404: { description: 'No such order of yours' } },
    handler: async ({ auth, params }) => ({ body: await deps.payments.getOrder(auth.userId, params.orderId) }),
  });

  api.route({
    method: 'post', path: '/payments/toss/confirm',
    summary: `Confirm a Toss Payments payment after the widget's success redirect; the amount must match the order. ${IDEMPOTENT}`,
    tags: ['payments'], auth: 'user', body: tossConfirmBody,
    responses: {
      200: { description: 'The paid order', schema: orderDto },
      402: { description: 'The provider refused the payment' },
      503: { description: 'The provider could not be reached' },
    },
    handler: async ({ auth, body, ctx }) =>
      replay(await withIdempotency(deps.em, { userId: auth.userId, key: ctx.get('idempotency-key') || undefined, scope: 'POST /payments/toss/confirm', request: body }, async () => ({
        status: 200,
        body: await deps.payments.confirmToss(auth.userId, body),
      }))),
  });

  api.route({
    method: 'post', path: '/admin/payments/:orderId/refund', summary: `Refund a paid order, fully or partly (admin). ${IDEMPOTENT}`,
    tags: ['payments', 'admin'], auth: 'admin', params: z.object({ orderId: z.string().min(1).max(64) }), body: refundBody,
    responses: { 200: { description: 'The order after the refund', schema: orderDto }, 409: { description: 'Not paid, or Idempotency-Key reused' } },
    handler: async ({ auth, params, body, ctx }) => {
      const key = ctx.get('idempotency-key') || undefined;
      return replay(await withIdempotency(deps.em, { userId: auth.userId, key, scope: `POST /admin/payments/${params.orderId}/refund`, request: body }, async () => ({
        status: 200,
        body: await deps.payments.refund(params.orderId, body, key!),
      })));
    },
  });
}
