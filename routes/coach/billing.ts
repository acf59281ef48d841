// /billing: coach subscriptions on RevenueCat — start a checkout, cancel at period end, see the
// plan. RevenueCat's webhook is the platform's POST /webhooks/revenuecat (the seed's /billing/notify
// was the same handler mounted twice; RevenueCat's dashboard takes any URL).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { PAID_TIERS, PLAN_TIERS } from '../../entities/coach/CoachPlan.ts';
import type { CoachSubscriptionService } from '../../services/coach/subscriptions.ts';

const planState = z.object({
  planTier: z.enum(PLAN_TIERS),
  planExpiresAt: z.string().nullable().meta({ description: 'ISO 8601 with the configured zone; null on free' }),
  cancelAtPeriodEnd: z.boolean(),
}).meta({ id: 'CoachPlanState' });

const checkoutCreated = z.object({
  checkoutId: z.uuid(),
  status: z.literal('created'),
  checkoutUrl: z.url(),
  offline: z.boolean().meta({ description: 'true: the OFFLINE sandbox checkout page, no real payment' }),
});
const checkoutDeferred = z.object({
  checkoutId: z.uuid(),
  status: z.enum(['retrying', 'failed']),
  nextAttemptAt: z.string().nullable().meta({ description: 'When the checkout is retried; the user is notified when it is ready' }),
});

export function billingRoutes(api: Api, deps: { coachSubscriptions: CoachSubscriptionService }): void {
  api.route({
    method: 'post', path: '/billing/initiate', summary: 'Start a coach subscription checkout (RevenueCat Web Billing)', tags: ['billing', 'coach'],
    auth: 'user', body: z.object({ tier: z.enum(PAID_TIERS) }),
    responses: {
      201: { description: 'The checkout to open', schema: checkoutCreated },
      202: { description: 'RevenueCat could not create the checkout now; it is retried and the user is notified', schema: checkoutDeferred },
      409: { description: 'Already on this plan or a higher one' },
    },
    handler: async ({ auth, body }) => {
      const result = await deps.coachSubscriptions.initiate(auth.userId, body.tier);
      return { status: result.status === 'created' ? 201 : 202, body: result };
    },
  });

  api.route({
    method: 'post', path: '/billing/cancel', summary: 'Cancel the coach subscription at the end of the paid period (the plan stays until then)', tags: ['billing', 'coach'],
    auth: 'user',
    responses: {
      200: {
        description: 'Cancellation recorded',
        schema: planState.extend({ provider: z.enum(['provider', 'store_managed', 'not_configured', 'offline']).meta({ description: 'store_managed: cancel in the App Store / Play Store as well' }) }),
      },
      409: { description: 'No active coach subscription' },
      502: { description: 'RevenueCat refused or failed' },
    },
    handler: async ({ auth }) => ({ body: await deps.coachSubscriptions.cancel(auth.userId) }),
  });

  api.route({
    method: 'get', path: '/billing/subscription', summary: 'My coach plan', tags: ['billing', 'coach'], auth: 'user',
    responses: { 200: { description: 'The plan now in force', schema: planState } },
    handler: async ({ auth }) => ({ body: await deps.coachSubscriptions.planState(auth.userId) }),
  });
}
