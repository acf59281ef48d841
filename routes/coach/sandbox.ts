// OFFLINE sandbox checkout for coach subscriptions — registered only while the RevenueCat checkout
// runs on its offline driver (never in production). Approve sends a signed RevenueCat-format
// INITIAL_PURCHASE webhook to POST /webhooks/revenuecat, the path RevenueCat's own webhooks take.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { PaidTier } from '../../entities/coach/CoachPlan.ts';
import type { CoachSubscriptionService } from '../../services/coach/subscriptions.ts';
import { decisionButtons, escapeHtml, sandboxPage } from '../sandboxPage.ts';

const TIER_NAMES: Record<PaidTier, string> = { basic: 'Basic (200회/주)', basic_special: 'Basic Special (100회/월)' };

const page = (title: string, body: string) =>
  sandboxPage(title, 'OFFLINE SANDBOX — no real subscription is bought; RevenueCat is not called.', body);

export function coachSandboxRoutes(api: Api, deps: { coachSubscriptions: CoachSubscriptionService }): void {
  const params = z.object({ checkoutId: z.uuid() });

  api.route({
    method: 'get', path: '/sandbox/coach-checkout/:checkoutId', summary: 'OFFLINE sandbox coach subscription checkout (Approve / Decline)', tags: ['development'],
    auth: 'none', params, responses: { 200: { description: 'HTML page' }, 404: { description: 'No such checkout' } },
    handler: async ({ params: p }) => {
      const c = await deps.coachSubscriptions.checkoutAttempt(p.checkoutId);
      return page('AI 코치 구독', `<p>${escapeHtml(TIER_NAMES[c.tier])}</p>
${decisionButtons(`/sandbox/coach-checkout/${encodeURIComponent(c.id)}`)}`);
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/coach-checkout/:checkoutId/${decision}`, summary: `OFFLINE sandbox: ${decision} the coach subscription${decision === 'approve' ? ' and send its RevenueCat webhook' : ''}`,
      tags: ['development'], auth: 'none', params, responses: { 200: { description: 'HTML result page' }, 404: { description: 'No such checkout' } },
      handler: async ({ params: p }) => {
        const { tier, webhookStatus } = await deps.coachSubscriptions.sandboxDecide(p.checkoutId, decision);
        return page(decision === 'approve' ? '구독이 시작되었습니다' : '결제가 취소되었습니다',
          `<p>${escapeHtml(TIER_NAMES[tier])}</p>${webhookStatus === null ? '' : `<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>`}`);
      },
    });
  }
}
