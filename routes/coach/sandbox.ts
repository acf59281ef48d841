// OFFLINE sandbox checkout for coach subscriptions — registered only while the RevenueCat checkout
// runs on its offline driver (never in production). Approve sends a signed RevenueCat-format
// INITIAL_PURCHASE webhook to POST /webhooks/revenuecat, the path RevenueCat's own webhooks take.
// A checkout is decided once (services/coach/subscriptions.ts); deciding it again is a 409.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { PaidTier } from '../../entities/coach/CoachPlan.ts';
import type { CoachSubscriptionService, Price } from '../../services/coach/subscriptions.ts';
import { decide, decisionButtons, escapeHtml, formatPrice, sandboxPage, settledNotice } from '../sandboxPage.ts';

const TIER_NAMES: Record<PaidTier, string> = { basic: 'Basic (200회/주)', basic_special: 'Basic Special (100회/월)' };

const page = (title: string, body: string) =>
  sandboxPage(title, 'OFFLINE SANDBOX — no real subscription is bought; RevenueCat is not called.', body);

const plan = (tier: PaidTier, price: Price) => `<p>${escapeHtml(TIER_NAMES[tier])}<br><strong>${escapeHtml(formatPrice(price.amount, price.currency))}</strong> / 월</p>`;

export function coachSandboxRoutes(api: Api, deps: { coachSubscriptions: CoachSubscriptionService }): void {
  const params = z.object({ checkoutId: z.uuid() });

  api.route({
    method: 'get', path: '/sandbox/coach-checkout/:checkoutId', summary: 'OFFLINE sandbox coach subscription checkout (Approve / Decline)', tags: ['development'],
    auth: 'none', params, responses: { 200: { description: 'HTML page' }, 404: { description: 'No such checkout' } },
    handler: async ({ params: p }) => {
      const c = await deps.coachSubscriptions.sandboxCheckout(p.checkoutId);
      return page('AI 코치 구독', `${plan(c.tier, c.price)}
${c.open ? decisionButtons(`/sandbox/coach-checkout/${encodeURIComponent(c.id)}`) : settledNotice(c.status)}`);
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/coach-checkout/:checkoutId/${decision}`, summary: `OFFLINE sandbox: ${decision} the coach subscription${decision === 'approve' ? ' and send its RevenueCat webhook' : ''}`,
      tags: ['development'], auth: 'none', params,
      responses: { 200: { description: 'HTML result page' }, 404: { description: 'No such checkout' }, 409: { description: 'Already approved or declined (`checkout_settled`): a checkout is decided once' } },
      handler: ({ params: p, ctx }) => decide(ctx, async () => {
        const { tier, price, webhookStatus } = await deps.coachSubscriptions.sandboxDecide(p.checkoutId, decision);
        if (webhookStatus === null) return page('결제가 취소되었습니다', plan(tier, price));
        // A webhook we refused bought nothing, and the checkout is open again.
        const bought = webhookStatus >= 200 && webhookStatus < 300;
        return page(bought ? '구독이 시작되었습니다' : '구독을 시작하지 못했습니다', `${plan(tier, price)}<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>
${bought ? '' : decisionButtons(`/sandbox/coach-checkout/${encodeURIComponent(p.checkoutId)}`)}`);
      }, (body) => page('이미 처리된 결제입니다', body)),
    });
  }
}
