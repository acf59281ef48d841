// Point packs at the seed's paths: GET /payment/products, admin POST/PUT/DELETE /payment/products,
// POST /payment/checkout (a Toss order through the platform's payments), POST /payment/webhook (the
// platform's Toss webhook handling, at the seed's path) and GET /payment/history. Paying, confirming
// (POST /payments/toss/confirm) and refunding (POST /admin/payments/:orderId/refund) are the
// platform's routes; the points land in the wallet (GET /point/balance).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import {
  checkoutDto, historyQuery, paymentHistoryItem, pointPackCreate, pointPackDto, pointPackId, pointPackInput, type PointPackService,
} from '../../services/chat/pointPacks.ts';
import { MAX_WEBHOOK_BYTES } from '../webhooks/payments.ts';

const idParams = z.object({ id: pointPackId });

export function pointPackRoutes(api: Api, deps: { pointPacks: PointPackService }): void {
  const { pointPacks } = deps;

  api.route({
    method: 'get', path: '/payment/products', summary: 'Point packs on sale', tags: ['chat', 'payments'], auth: 'none',
    responses: { 200: { description: 'Packs, in display order', schema: z.object({ products: z.array(pointPackDto) }) } },
    handler: async () => ({ body: { products: await pointPacks.listPacks() } }),
  });

  api.route({
    method: 'post', path: '/payment/products', summary: 'Create a point pack (admin)', tags: ['chat', 'payments', 'admin'], auth: 'admin',
    body: pointPackCreate, idempotent: true,
    responses: { 201: { description: 'The pack, on sale unless created inactive', schema: pointPackDto }, 409: { description: 'A product with this id exists, or Idempotency-Key reused' } },
    handler: async ({ body }) => ({ status: 201, body: await pointPacks.createPack(body) }),
  });

  api.route({
    method: 'put', path: '/payment/products/:id', summary: "Replace a point pack's name, price, points, bonus, order and sale state (admin); pending orders keep their terms",
    tags: ['chat', 'payments', 'admin'], auth: 'admin', params: idParams, body: pointPackInput,
    responses: { 200: { description: 'The pack', schema: pointPackDto }, 404: { description: 'No such point pack' } },
    handler: async ({ params, body }) => ({ body: await pointPacks.updatePack(params.id, body) }),
  });

  api.route({
    method: 'delete', path: '/payment/products/:id', summary: 'Take a point pack off sale (admin); its past orders keep it', tags: ['chat', 'payments', 'admin'], auth: 'admin',
    params: idParams,
    responses: { 204: { description: 'Off sale' }, 404: { description: 'No such point pack' } },
    handler: async ({ params }) => pointPacks.removePack(params.id),
  });

  api.route({
    method: 'post', path: '/payment/checkout',
    summary: 'Order a point pack: a pending order with what the Toss widget needs (the offline sandbox checkout where Toss is not configured); confirm with POST /payments/toss/confirm',
    tags: ['chat', 'payments'], auth: 'user', idempotent: true,
    body: z.object({ productId: pointPackId.meta({ example: 'chat.basic' }) }),
    responses: { 201: { description: 'The pending order and the pack it buys', schema: checkoutDto }, 409: { description: 'Idempotency-Key reused with another pack' } },
    handler: async ({ auth, body }) => ({ status: 201, body: await pointPacks.checkout(auth.userId, body.productId) }),
  });

  // The same handling as POST /webhooks/toss (one record per delivery between the two paths).
  if (pointPacks.tossWebhook) {
    const tossWebhook = pointPacks.tossWebhook;
    api.route({
      method: 'post', path: '/payment/webhook', summary: 'Toss Payments webhook at the seed\'s path: the same handling as POST /webhooks/toss', tags: ['chat', 'webhooks'],
      auth: 'none', rateLimit: 'webhook', rawBody: { maxBytes: MAX_WEBHOOK_BYTES },
      responses: {
        200: { description: 'Processed, or a duplicate (from either path) acknowledged', schema: z.object({ received: z.literal(true), duplicate: z.boolean(), outcome: z.string() }) },
        401: { description: 'Signature refused' },
        413: { description: `Body larger than ${MAX_WEBHOOK_BYTES} bytes` },
        422: { description: 'Amount mismatch: recorded and refused' },
      },
      handler: async ({ rawBody, ctx }) => ({ body: { received: true, ...(await tossWebhook(rawBody!, ctx.headers)) } }),
    });
  }

  api.route({
    method: 'get', path: '/payment/history', summary: 'My point pack orders, newest first, with the points each credited', tags: ['chat', 'payments'], auth: 'user',
    query: historyQuery,
    responses: { 200: { description: 'A page; pass nextCursor as cursor for the next', schema: z.object({ items: z.array(paymentHistoryItem), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await pointPacks.history(auth.userId, query) }),
  });
}
