// A "Find My Rizz" job from a client's side, without an account: pay, register the phone, send the
// selfie, hear every move of the job on the /rizz socket, then open the result with the phone number.
//
//   API_URL=http://localhost:3000 node examples/rizz-job.ts selfie.jpg
//
// Needs Node.js ≥ 22.18 (it runs TypeScript as is), or the project's own: node_modules/.bin/node.
// The selfie: a JPEG or PNG, at least 512 px on its shorter side, at most 10 MB. PHONE (default
// 010-1234-5678) is the Korean mobile number the result link is texted to.
//
// Payment: against `npm start` without PortOne keys the order is a sandbox one, approved here as the
// sandbox checkout page would; with PORTONE_* set, pay it with PortOne's browser SDK (the order's
// `checkout` holds what the SDK takes) and this script waits for the payment to arrive.
// Exit status: 0 the result is ready, 1 the job failed, 2 usage.
import fs from 'node:fs';
import { io } from 'socket.io-client';

type Job = { id: string; status: string; failureReason: string | null; secondsLeft: number };

const url = process.env.API_URL ?? 'http://localhost:3000';
const phone = process.env.PHONE ?? '010-1234-5678';
const photoPath = process.argv[2];
if (!photoPath || !fs.existsSync(photoPath)) {
  console.error('Usage: node examples/rizz-job.ts <selfie.jpg|png>   (API_URL, PHONE optional)');
  process.exit(2);
}

async function call<T>(method: string, path: string, opts: { token?: string; resultToken?: string; json?: unknown; form?: FormData } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.token) headers['x-job-token'] = opts.token;
  if (opts.resultToken) headers['x-result-token'] = opts.resultToken;
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers, body: opts.form ?? (opts.json === undefined ? undefined : JSON.stringify(opts.json)) });
  const body = (await res.json()) as { code?: string; detail?: string; title?: string };
  if (!res.ok) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${body.code}: ${body.detail ?? body.title}`), { code: body.code });
  return body as T;
}

// 1. The job and its order; the job token is given once: it is the only key to this job.
const { job, jobToken, order } = await call<{ job: Job; jobToken: string; order: { orderId: string; provider: string; amount: number } }>('POST', '/payments/initialize');
console.log(`job ${job.id}: ${job.status}, order ${order.orderId} (${order.amount} KRW, ${order.provider})`);

// 2. Every move of the job, as it happens. Listeners go on before anything can move it.
const socket = io(`${url}/rizz`, { auth: { jobId: job.id, token: jobToken } });
let last: Job = job;
const waiters: { statuses: string[]; resolve: (j: Job) => void }[] = [];
const seen = (j: Job) => {
  last = j;
  for (const w of waiters.filter((x) => x.statuses.includes(j.status))) {
    waiters.splice(waiters.indexOf(w), 1);
    w.resolve(j);
  }
};
socket.on('job.updated', (j: Job) => {
  console.log(`job.updated: ${j.status}${j.failureReason ? ` (${j.failureReason})` : ''}`);
  seen(j);
});
// After a reconnect (or the server's `resync`), a move may have been missed: read the job's state.
for (const event of ['connect', 'resync']) socket.on(event, () => void call<Job>('GET', `/jobs/${job.id}`, { token: jobToken }).then(seen, () => undefined));
socket.on('connect_error', (err: Error & { data?: { code?: string } }) => console.error('socket:', err.message, err.data?.code ?? ''));
const reaches = (...statuses: string[]) => (statuses.includes(last.status) ? Promise.resolve(last) : new Promise<Job>((resolve) => waiters.push({ statuses, resolve })));

// 3. Payment. The completion call asks PortOne (not the client) whether the order is paid.
const paid = reaches('pending_phone');
if (order.provider === 'sandbox') await fetch(`${url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' }); // the page's "pay" button
else console.log('pay the order with the PortOne SDK; waiting for the payment…');
await call('POST', '/payments/complete', { token: jobToken, json: { jobId: job.id } });
await paid;

// 4. The phone the result link is texted to, then the selfie as a form's `file` field.
await call('POST', `/jobs/${job.id}/phone`, { token: jobToken, json: { phone } });
const done = reaches('completed', 'failed');
const form = new FormData();
const type = /\.png$/i.test(photoPath) ? 'image/png' : 'image/jpeg';
form.append('file', new Blob([fs.readFileSync(photoPath)], { type }), photoPath.split('/').pop());
await call('POST', `/jobs/${job.id}/upload`, { token: jobToken, form });
const final = await done;
socket.close();
if (final.status === 'failed') {
  console.error(`the job failed: ${final.failureReason}`);
  process.exit(1);
}

// 5. The result, opened as the SMS link's page does: the phone number first, then the result token.
const { resultToken } = await call<{ resultToken: string }>('POST', `/results/${job.id}/verify`, { json: { phone } });
const result = await call<{ images: { url: string }[]; report: { summary: string } | null; recommendations: { code: string; title: string }[]; expiresAt: string }>(
  'GET', `/results/${job.id}`, { resultToken },
);
console.log(`report: ${result.report?.summary}`);
for (const [i, image] of result.images.entries()) console.log(`portrait ${i + 1}: ${image.url}`);
console.log(`recommendations: ${result.recommendations.map((r) => `${r.code} ${r.title}`).join(', ')}`);
console.log(`everything is deleted at ${result.expiresAt}`);
