// OFFLINE sandbox checkout — registered only while the sandbox provider is enabled (never in
// production). A page with Approve/Decline buttons; each drives the real webhook path.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import type { OrderDto } from '../services/billing/schemas.ts';
import { decisionButtons, escapeHtml, sandboxPage } from './sandboxPage.ts';

function page(title: string, order: OrderDto, body: string) {
  return sandboxPage(title, 'OFFLINE SANDBOX — no real payment is made.', `<p>${escapeHtml(order.orderName)}<br><strong>${order.amount.toLocaleString('ko-KR')}원</strong></p>
<p style="color:#555">Order ${escapeHtml(order.orderId)} · status <strong>${escapeHtml(order.status)}</strong></p>
${body}`);
}

export function sandboxRoutes(api: Api, deps: { payments: PaymentService }): void {
  const orderParam = z.object({ orderId: z.string().min(1).max(64) });

  api.route({
    method: 'get', path: '/sandbox/checkout/:orderId', summary: 'OFFLINE sandbox checkout page (Approve / Decline)', tags: ['development'],
    auth: 'none', params: orderParam, responses: { 200: { description: 'HTML page' }, 404: { description: 'No sandbox order' } },
    handler: async ({ params }) => {
      const order = await deps.payments.sandboxOrder(params.orderId);
      const buttons = order.status === 'pending' ? decisionButtons(`/sandbox/checkout/${encodeURIComponent(order.orderId)}`) : '<p>This order is no longer pending.</p>';
      return page('Sandbox checkout', order, buttons);
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/checkout/:orderId/${decision}`, summary: `OFFLINE sandbox: ${decision} the payment and send its webhook`, tags: ['development'],
      auth: 'none', params: orderParam, responses: { 200: { description: 'HTML result page' } },
      handler: async ({ params }) => {
        const { order, webhookStatus } = await deps.payments.sandboxDecide(params.orderId, decision);
        return page(decision === 'approve' ? 'Payment approved' : 'Payment declined', order, `<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>`);
      },
    });
  }
}
