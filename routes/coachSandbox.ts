// OFFLINE sandbox checkout for coach subscriptions — registered only while the RevenueCat checkout
// runs on its offline driver (never in production). Approve sends a signed RevenueCat-format
// INITIAL_PURCHASE webhook to POST /webhooks/revenuecat, the path RevenueCat's own webhooks take.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { CoachSubscriptionService } from '../services/coach/subscriptions.ts';

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";
const TIER_NAMES = { basic: 'Basic (200회/주)', basic_special: 'Basic Special (100회/월)' } as const;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">
<p style="background:#fff3cd;padding:.5rem;border-radius:.25rem">OFFLINE SANDBOX — no real subscription is bought; RevenueCat is not called.</p>
<h1 style="font-size:1.4rem">${escapeHtml(title)}</h1>
${body}</body></html>`;
}

export function coachSandboxRoutes(api: Api, deps: { coachSubscriptions: CoachSubscriptionService }): void {
  const params = z.object({ checkoutId: z.uuid() });
  const html = (body: string) => ({ body, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP } });

  api.route({
    method: 'get', path: '/sandbox/coach-checkout/:checkoutId', summary: 'OFFLINE sandbox coach subscription checkout (Approve / Decline)', tags: ['development'],
    auth: 'none', params, responses: { 200: { description: 'HTML page' }, 404: { description: 'No such checkout' } },
    handler: async ({ params: p }) => {
      const c = await deps.coachSubscriptions.checkoutAttempt(p.checkoutId);
      const id = encodeURIComponent(c.id);
      return html(page('AI 코치 구독', `<p>${escapeHtml(TIER_NAMES[c.tier])}</p>
<form method="post" action="/sandbox/coach-checkout/${id}/approve" style="display:inline"><button style="font-size:1rem;padding:.5rem 1.5rem">Approve</button></form>
<form method="post" action="/sandbox/coach-checkout/${id}/decline" style="display:inline;margin-left:1rem"><button style="font-size:1rem;padding:.5rem 1.5rem">Decline</button></form>`));
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/coach-checkout/:checkoutId/${decision}`, summary: `OFFLINE sandbox: ${decision} the coach subscription${decision === 'approve' ? ' and send its RevenueCat webhook' : ''}`,
      tags: ['development'], auth: 'none', params, responses: { 200: { description: 'HTML result page' }, 404: { description: 'No such checkout' } },
      handler: async ({ params: p }) => {
        const { tier, webhookStatus } = await deps.coachSubscriptions.sandboxDecide(p.checkoutId, decision);
        return html(page(decision === 'approve' ? '구독이 시작되었습니다' : '결제가 취소되었습니다',
          `<p>${escapeHtml(TIER_NAMES[tier])}</p>${webhookStatus === null ? '' : `<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>`}`));
      },
    });
  }
}
