// OFFLINE sandbox checkout — registered only while the sandbox provider is enabled (never in
// production). A page with Approve/Decline buttons; each drives the real webhook path. An order is
// decided once (services/billing/payments.ts); deciding it again is a 409.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import type { OrderDto } from '../services/billing/schemas.ts';
import { decide, decisionButtons, escapeHtml, formatPrice, sandboxPage, settledNotice } from './sandboxPage.ts';

function page(title: string, order: OrderDto, body: string) {
  return sandboxPage(title, 'OFFLINE SANDBOX — no real payment is made.', `<p>${escapeHtml(order.orderName)}<br><strong>${escapeHtml(formatPrice(order.amount, order.currency))}</strong></p>
<p style="color:#555">Order ${escapeHtml(order.orderId)} · status <strong>${escapeHtml(order.status)}</strong></p>
${body}`);
}

// Titled by where the order ended up, not by the button: a click racing another reports the
// decision that stood.
const OUTCOME_TITLES: Record<string, string> = { paid: 'Payment approved', failed: 'Payment declined' };

export function sandboxRoutes(api: Api, deps: { payments: PaymentService }): void {
  const orderParam = z.object({ orderId: z.string().min(1).max(64) });

  api.route({
    method: 'get', path: '/sandbox/checkout/:orderId', summary: 'OFFLINE sandbox checkout page (Approve / Decline)', tags: ['development'],
    auth: 'none', params: orderParam, responses: { 200: { description: 'HTML page' }, 404: { description: 'No sandbox order' } },
    handler: async ({ params }) => {
      const order = await deps.payments.sandboxOrder(params.orderId);
      const buttons = order.status === 'pending' ? decisionButtons(`/sandbox/checkout/${encodeURIComponent(order.orderId)}`) : settledNotice(order.status);
      return page('Sandbox checkout', order, buttons);
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/checkout/:orderId/${decision}`, summary: `OFFLINE sandbox: ${decision} the payment and send its webhook`, tags: ['development'],
      auth: 'none', params: orderParam,
      responses: { 200: { description: 'HTML result page' }, 404: { description: 'No sandbox order' }, 409: { description: 'Already decided (`checkout_settled`): an order is decided once' } },
      handler: ({ params, ctx }) => decide(ctx, async () => {
        const { order, webhookStatus } = await deps.payments.sandboxDecide(params.orderId, decision);
        return page(OUTCOME_TITLES[order.status] ?? 'Payment pending', order, `<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>`);
      }, (body) => sandboxPage('Already settled', 'OFFLINE SANDBOX — no real payment is made.', body)),
    });
  }
}
