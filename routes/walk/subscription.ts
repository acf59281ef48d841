// Walk premium: GET /walk/subscription (my state from every provider, and what premium gives),
// POST /walk/subscription/checkout (what the app opens Toss's card registration with),
// POST /walk/subscription/billing-key (the registration's authKey → the first month charged),
// POST /walk/subscription/cancel and /resume (renewal off at the period end, and back on).
import type { Api } from '../../server/http/route.ts';
import { billingKeyInput, checkoutDto, subscriptionStateDto, type WalkSubscriptionService } from '../../services/walk/subscription.ts';

export function walkSubscriptionRoutes(api: Api, deps: { subscription: WalkSubscriptionService }): void {
  api.route({
    method: 'get', path: '/walk/subscription', tags: ['walk'], auth: 'user',
    summary: 'My premium: whether and until when, what it unlocks, the plan, and my subscriptions (Toss, App Store, Google Play)',
    responses: { 200: { description: 'My subscription state', schema: subscriptionStateDto } },
    handler: async ({ auth }) => ({ body: await deps.subscription.state(auth.userId) }),
  });
  api.route({
    method: 'post', path: '/walk/subscription/checkout', tags: ['walk'], auth: 'user',
    summary: "Start a monthly premium subscription by card: the customerKey, amount and order name the app opens Toss's card registration (requestBillingAuth) with (offline: the sandbox's auth keys)",
    responses: {
      200: { description: 'What the billing-auth window needs', schema: checkoutDto },
      409: { description: 'already_subscribed (a subscription of mine renews already), or resume_instead (my cancelled Toss subscription still runs)' },
      503: { description: 'billing_unavailable: no card billing on this server' },
    },
    handler: async ({ auth }) => ({ body: await deps.subscription.checkout(auth.userId) }),
  });
  api.route({
    method: 'post', path: '/walk/subscription/billing-key', tags: ['walk'], auth: 'user', body: billingKeyInput,
    summary: 'Finish subscribing: the authKey of the card registration becomes a billing key (kept sealed), the first month is charged at once and premium runs to the period end. The same authKey again changes nothing',
    responses: {
      201: { description: 'Subscribed', schema: subscriptionStateDto },
      200: { description: 'This authKey subscribed before: the state, nothing charged again', schema: subscriptionStateDto },
      400: { description: 'invalid_customer_key (not mine), billing_auth_failed (Toss refused the authKey), or bad input naming the field' },
      402: { description: 'payment_declined: the first charge was refused (providerCode says why)' },
      409: { description: 'already_subscribed, resume_instead, or subscribe_in_progress (the same authKey is being handled)' },
      503: { description: 'The payment provider could not be reached: the same call may be made again' },
    },
    handler: async ({ auth, body }) => {
      const { state, created } = await deps.subscription.subscribe(auth.userId, body);
      return { status: created ? 201 : 200, body: state };
    },
  });
  api.route({
    method: 'post', path: '/walk/subscription/cancel', tags: ['walk'], auth: 'user',
    summary: 'Cancel my Toss subscription at the period end: premium stays until then, nothing more is charged. Cancelling again changes nothing',
    responses: { 200: { description: 'My state', schema: subscriptionStateDto }, 409: { description: 'not_subscribed' } },
    handler: async ({ auth }) => ({ body: await deps.subscription.cancel(auth.userId) }),
  });
  api.route({
    method: 'post', path: '/walk/subscription/resume', tags: ['walk'], auth: 'user',
    summary: 'Undo a cancel before the period ends: the subscription renews again',
    responses: { 200: { description: 'My state', schema: subscriptionStateDto }, 409: { description: 'nothing_to_resume: no cancelled subscription still running' } },
    handler: async ({ auth }) => ({ body: await deps.subscription.resume(auth.userId) }),
  });
}
