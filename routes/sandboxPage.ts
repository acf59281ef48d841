// The HTML of the OFFLINE sandbox checkout pages (payments and coach subscriptions): one layout,
// one escaping, one price format, one Content-Security-Policy, and one answer to a second decision.
import type { Context } from 'koa';
import type { RouteResult } from '../server/http/route.ts';
import { AppError } from '../services/errors.ts';

// The pages style themselves inline and post their own forms; nothing else is allowed.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Integer KRW as Korean shoppers read it (4,900원); any other currency in its own notation.
export function formatPrice(amount: number, currency: string): string {
  return currency === 'KRW' ? `${amount.toLocaleString('ko-KR')}원` : new Intl.NumberFormat('ko-KR', { style: 'currency', currency }).format(amount);
}

type Page = { body: string; headers: Record<string, string> };

// `notice` and `body` are HTML the caller has escaped; `title` is text.
export function sandboxPage(title: string, notice: string, body: string): Page {
  return {
    body: `<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">
<p style="background:#fff3cd;padding:.5rem;border-radius:.25rem">${notice}</p>
<h1 style="font-size:1.4rem">${escapeHtml(title)}</h1>
${body}</body></html>`,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP },
  };
}

// The Approve and Decline buttons, posting to `${basePath}/approve` and `${basePath}/decline`.
export function decisionButtons(basePath: string): string {
  return `<form method="post" action="${basePath}/approve" style="display:inline"><button style="font-size:1rem;padding:.5rem 1.5rem">Approve</button></form>
<form method="post" action="${basePath}/decline" style="display:inline;margin-left:1rem"><button style="font-size:1rem;padding:.5rem 1.5rem">Decline</button></form>`;
}

// What the page of a checkout that can no longer be decided shows instead of its buttons.
export function settledNotice(status: string): string {
  return `<p><strong>This checkout is already settled (${escapeHtml(status)}).</strong> A sandbox checkout is decided once; start a new one to pay again.</p>`;
}

// Runs a button's decision. A checkout decided before is a 409 (`checkout_settled`): a browser,
// which posted the form, gets a page saying so; any other client gets the problem+json every route
// answers with.
export async function decide(ctx: Context, run: () => Promise<RouteResult>, page: (body: string) => Page): Promise<RouteResult> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 409 || ctx.accepts('json', 'html') !== 'html') throw err;
    return { ...page(`<p><strong>${escapeHtml(err.message)}</strong></p><p style="color:#555">HTTP 409 · <code>${escapeHtml(err.code)}</code></p>`), status: 409 };
  }
}
