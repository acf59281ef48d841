// The stores' subscription notifications for walk premium, next to the platform's payment webhooks
// (routes/webhooks/payments.ts) and limited per IP the same way. Both stores retry anything but a
// 2xx: events that change nothing for us are answered 200 with what happened.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { StoreSubscriptionService } from '../../services/walk/storeSubscriptions.ts';

// An App Store notification is one JWS holding two more, each with a three-certificate chain:
// about 15 KB. A Pub/Sub push of a developer notification is under 1 KB. 64 KB is four times the
// larger and bounds what an unauthenticated sender makes us read and verify.
const MAX_STORE_WEBHOOK_BYTES = 64 * 1024;
const result = z.object({
  received: z.literal(true),
  duplicate: z.boolean(),
  outcome: z.string().meta({ description: 'applied, duplicate, stale, unknown_user, unknown_purchase, other_bundle, other_app, other_environment, other_package, test or ignored' }),
});

export function storeSubscriptionRoutes(api: Api, deps: { storeSubscriptions: StoreSubscriptionService }): void {
  const { storeSubscriptions } = deps;
  api.route({
    method: 'post', path: '/webhooks/walk/app-store', tags: ['walk', 'webhooks'],
    summary: 'App Store Server Notifications V2 for walk premium: { signedPayload } verified against Apple Root CA - G3 (x5c chain, Apple OIDs, ES256)',
    auth: 'none', rateLimit: 'webhook', rawBody: { maxBytes: MAX_STORE_WEBHOOK_BYTES, contentType: 'application/json' },
    responses: {
      200: { description: 'Applied, or acknowledged without change (a duplicate, another bundle, an unknown user, a type that changes nothing)', schema: result },
      401: { description: 'The JWS, its certificate chain or its signature was refused' },
      404: { description: 'App Store notifications are not configured on this server (WALK_APPLE_BUNDLE_ID)' },
      413: { description: `Body larger than ${MAX_STORE_WEBHOOK_BYTES} bytes` },
    },
    handler: async ({ rawBody }) => ({ body: { received: true, ...(await storeSubscriptions.appStoreNotification(rawBody!)) } }),
  });
  api.route({
    method: 'post', path: '/webhooks/walk/google-play', tags: ['walk', 'webhooks'],
    summary: 'Google Play real-time developer notifications (Pub/Sub push with an OIDC token) for walk premium; the subscription is read from the Play Developer API',
    auth: 'none', rateLimit: 'webhook', rawBody: { maxBytes: MAX_STORE_WEBHOOK_BYTES, contentType: 'application/json' },
    responses: {
      200: { description: 'Applied, or acknowledged without change (a duplicate, another package, an unknown purchase or user, a test notification)', schema: result },
      401: { description: 'Missing, invalid or foreign Pub/Sub OIDC token' },
      404: { description: 'Google Play notifications are not configured on this server (WALK_PLAY_*)' },
      413: { description: `Body larger than ${MAX_STORE_WEBHOOK_BYTES} bytes` },
      503: { description: 'The Play Developer API (or Google\'s keys) could not be reached: Pub/Sub delivers the message again' },
    },
    handler: async ({ rawBody, ctx }) => ({ body: { received: true, ...(await storeSubscriptions.googlePlayNotification(rawBody!, ctx.headers)) } }),
  });
}
