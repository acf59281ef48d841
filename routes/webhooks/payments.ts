// Payment provider webhooks. Each verifies its signature over the raw bytes before anything is
// parsed; a duplicate delivery is answered 200 without acting again.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { WebhookService } from '../../services/billing/webhooks.ts';

const MAX_WEBHOOK_BYTES = 256 * 1024;
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
      auth: 'none', rateLimit: 'none', rawBody: { maxBytes: MAX_WEBHOOK_BYTES },
      responses: {
        200: { description: 'Processed, or a duplicate acknowledged', schema: result },
        401: { description: 'Signature refused' },
        422: { description: 'Amount mismatch: recorded and refused' },
      },
      handler: async ({ rawBody, ctx }) => {
        const outcome = await deps.webhooks[provider](rawBody!, ctx.headers);
        return { body: { received: true, ...outcome } };
      },
    });
  }
}
