// The HTML of the OFFLINE sandbox checkout pages (payments and coach subscriptions): one layout,
// one escaping, one Content-Security-Policy.
import type { RouteResult } from '../server/http/route.ts';

// The pages style themselves inline and post their own forms; nothing else is allowed.
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// `notice` and `body` are HTML the caller has escaped; `title` is text.
export function sandboxPage(title: string, notice: string, body: string): RouteResult {
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
