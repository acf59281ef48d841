// /payments: products, orders, the Toss confirm callback, and refunds (admin). The mutating routes
// are `idempotent`: the route layer requires and honours an Idempotency-Key.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import { createOrderBody, orderDto, productDto, refundBody, tossConfirmBody } from '../services/billing/schemas.ts';

export function paymentRoutes(api: Api, deps: { payments: PaymentService }): void {
  api.route({
    method: 'get', path: '/payments/products', summary: 'Products on sale, by module', tags: ['payments'], auth: 'none',
    query: z.object({ module: z.string().max(20).optional() }),
    responses: { 200: { description: 'Products', schema: z.object({ products: z.array(productDto) }) } },
    handler: async ({ query }) => ({ body: { products: await deps.payments.listProducts(query.module) } }),
  });

  api.route({
    method: 'post', path: '/payments/orders', summary: "Create an order for a product (the price is the product's)", tags: ['payments'],
    auth: 'user', body: createOrderBody, idempotent: true,
    responses: { 201: { description: 'Pending order with what the client needs to open the checkout', schema: orderDto }, 409: { description: 'Idempotency-Key reused with other parameters' } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.payments.createOrder(auth.userId, body) }),
  });

  api.route({
    method: 'get', path: '/payments/orders/:orderId', summary: 'One of my orders', tags: ['payments'], auth: 'user',
    params: z.object({ orderId: z.string().min(1).max(64) }),
    responses: { 200: { description: 'The order', schema: orderDto }, 404: { description: 'No such order of yours' } },
    handler: async ({ auth, params }) => ({ body: await deps.payments.getOrder(auth.userId, params.orderId) }),
  });

  api.route({
    method: 'post', path: '/payments/toss/confirm',
    summary: "Confirm a Toss Payments payment after the widget's success redirect; the amount must match the order",
    tags: ['payments'], auth: 'user', body: tossConfirmBody, idempotent: true,
    responses: {
      200: { description: 'The paid order', schema: orderDto },
      402: { description: 'The provider refused the payment' },
      503: { description: 'The provider could not be reached' },
    },
    handler: async ({ auth, body }) => ({ body: await deps.payments.confirmToss(auth.userId, body) }),
  });

  api.route({
    method: 'post', path: '/admin/payments/:orderId/refund', summary: 'Refund a paid order, fully or partly (admin)',
    tags: ['payments', 'admin'], auth: 'admin', params: z.object({ orderId: z.string().min(1).max(64) }), body: refundBody, idempotent: true,
    responses: { 200: { description: 'The order after the refund', schema: orderDto }, 409: { description: 'Not paid, or Idempotency-Key reused' } },
    // The provider gets our key too, so a refund it already made is not made twice.
    handler: async ({ params, body, idempotencyKey }) => ({ body: await deps.payments.refund(params.orderId, body, idempotencyKey) }),
  });
}
