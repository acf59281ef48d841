// Standard Webhooks 1.0 (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`,
// `webhook-signature` ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", several space-separated
// during secret rotation), secrets as `whsec_<base64>`. PortOne V2 and our sandbox sign this way.
import crypto from 'node:crypto';

export type WebhookHeaders = Record<string, string | string[] | undefined>;

export type VerifyResult = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

const TOLERANCE_SECONDS = 5 * 60;

function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function signStandardWebhook(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const mac = crypto.createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

// Accepts the message if any signature matches any configured secret (rotation), within ±5 minutes.
export function verifyStandardWebhook(secrets: string[], headers: WebhookHeaders, rawBody: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): VerifyResult {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigHeader = header(headers, 'webhook-signature');
  if (!id || !ts || !sigHeader) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  const timestamp = Number(ts);
  if (!Number.isInteger(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a number' };
  if (Math.abs(nowSeconds - timestamp) > TOLERANCE_SECONDS) return { ok: false, reason: 'webhook-timestamp outside the 5 minute tolerance' };
  const presented = sigHeader.split(' ').filter((s) => s.startsWith('v1,')).map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = crypto.createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.`).update(rawBody).digest();
    if (presented.some((p) => p.length === expected.length && crypto.timingSafeEqual(p, expected))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'no signature matches' };
}

export function safeEqualText(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}
