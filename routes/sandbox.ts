// OFFLINE sandbox checkout — registered only while the sandbox provider is enabled (never in
// production). A page with Approve/Decline buttons; each drives the real webhook path.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { PaymentService } from '../services/billing/payments.ts';
import type { OrderDto } from '../services/billing/schemas.ts';

// The page styles itself inline and posts its own forms; nothing else is allowed.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, order: OrderDto, body: string): string {
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">
<p style="background:#fff3cd;padding:.5rem;border-radius:.25rem">OFFLINE SANDBOX — no real payment is made.</p>
<h1 style="font-size:1.4rem">${escapeHtml(title)}</h1>
<p>${escapeHtml(order.orderName)}<br><strong>${order.amount.toLocaleString('ko-KR')}원</strong></p>
<p style="color:#555">Order ${escapeHtml(order.orderId)} · status <strong>${escapeHtml(order.status)}</strong></p>
${body}</body></html>`;
}

export function sandboxRoutes(api: Api, deps: { payments: PaymentService }): void {
  const orderParam = z.object({ orderId: z.string().min(1).max(64) });
  const html = (body: string) => ({ body, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP } });

  api.route({
    method: 'get', path: '/sandbox/checkout/:orderId', summary: 'OFFLINE sandbox checkout page (Approve / Decline)', tags: ['development'],
    auth: 'none', params: orderParam, responses: { 200: { description: 'HTML page' }, 404: { description: 'No sandbox order' } },
    handler: async ({ params }) => {
      const order = await deps.payments.sandboxOrder(params.orderId);
      const id = encodeURIComponent(order.orderId);
      const buttons = order.status === 'pending'
        ? `<form method="post" action="/sandbox/checkout/${id}/approve" style="display:inline"><button style="font-size:1rem;padding:.5rem 1.5rem">Approve</button></form>
           <form method="post" action="/sandbox/checkout/${id}/decline" style="display:inline;margin-left:1rem"><button style="font-size:1rem;padding:.5rem 1.5rem">Decline</button></form>`
        : '<p>This order is no longer pending.</p>';
      return html(page('Sandbox checkout', order, buttons));
    },
  });

  for (const decision of ['approve', 'decline'] as const) {
    api.route({
      method: 'post', path: `/sandbox/checkout/:orderId/${decision}`, summary: `OFFLINE sandbox: ${decision} the payment and send its webhook`, tags: ['development'],
      auth: 'none', params: orderParam, responses: { 200: { description: 'HTML result page' } },
      handler: async ({ params }) => {
        const { order, webhookStatus } = await deps.payments.sandboxDecide(params.orderId, decision);
        return html(page(decision === 'approve' ? 'Payment approved' : 'Payment declined', order, `<p style="color:#555">Webhook delivered: HTTP ${webhookStatus}</p>`));
      },
    });
  }
}
