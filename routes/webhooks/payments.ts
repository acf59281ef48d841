// Payment provider webhooks. Each verifies its signature over the raw bytes before anything is
// parsed; a duplicate delivery is answered 200 without acting again. Senders are limited per IP
// (RATE_LIMIT_WEBHOOK_PER_MINUTE, a bucket of their own so a provider's burst neither spends nor
// is refused by the general per-IP limit).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { WebhookService } from '../../services/billing/webhooks.ts';

// Real events are small: a Toss PAYMENT_STATUS_CHANGED carries one Payment object (a few KB, about
// 0.5 KB more per partial cancel), PortOne's and the sandbox's are ids only, RevenueCat's one
// event with its subscriber attributes. 64 KB is over ten times the largest of them and keeps an
// unauthenticated sender from making us read, hash and parse much more; larger bodies get 413.
export const MAX_WEBHOOK_BYTES = 64 * 1024;
const result = z.object({ received: z.literal(true), duplicate: z.boolean(), outcome: z.string() });

export function paymentWebhookRoutes(api: Api, deps: { webhooks: WebhookService; providers: ('toss' | 'portone' | 'revenuecat' | 'sandbox')[] }): void {
  const summaries = {
    toss: 'Toss Payments webhook (PAYMENT_STATUS_CHANGED; confirmed with the Toss API)',
    portone: 'PortOne V2 webhook (Standard Webhooks signature; confirmed with the PortOne API)',
    revenuecat: 'RevenueCat webhook (Authorization header and/or X-RevenueCat-Signature HMAC-SHA256)',
    sandbox: 'OFFLINE sandbox provider webhook (Standard Webhooks signature)',
  } as const;
  for (const provider of deps.providers) {
    api.route({
      method: 'post', path: `/webhooks/${provider}`, summary: summaries[provider], tags: ['webhooks'],
      auth: 'none', rateLimit: 'webhook', rawBody: { maxBytes: MAX_WEBHOOK_BYTES },
      responses: {
        200: { description: 'Processed, or a duplicate acknowledged; an unsigned Toss event that names no order of ours is acknowledged and not stored', schema: result },
        401: { description: 'Signature refused' },
        413: { description: `Body larger than ${MAX_WEBHOOK_BYTES} bytes` },
        422: { description: 'Amount mismatch: recorded and refused' },
      },
      handler: async ({ rawBody, ctx }) => {
        const outcome = await deps.webhooks[provider](rawBody!, ctx.headers);
        return { body: { received: true, ...outcome } };
      },
    });
  }
}
