// CoolSMS (SOLAPI) messages API v4: POST /messages/v4/send with an HMAC-SHA256 Authorization header.
// The signature is HMAC-SHA256(date + salt) keyed with the API secret, hex; the server refuses a
// date more than 15 minutes off and any signature it has seen before, so every attempt is signed
// anew. https://developers.solapi.com/references/authentication/api-key
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { ProviderCallError, fetchOnce, readJson, retryAfterMs, withRetries, type RetryPolicy } from '../http.ts';
import type { SmsProvider } from './index.ts';

const SERVICE = 'coolsms';
// "2000": accepted for delivery to the carrier. Anything else in a 200 answer is a refusal.
const ACCEPTED = '2000';

export type CoolSmsOptions = {
  apiKey: string;
  apiSecret: string;
  sender: string;
  baseUrl?: string;
  timeoutMs: number;
  retry?: RetryPolicy;
  logger?: Logger;
};

export class SmsProviderError extends ProviderCallError {
  override name = 'SmsProviderError';
}

export function coolSmsAuthorization(apiKey: string, apiSecret: string, now = new Date()): string {
  const date = now.toISOString();
  const salt = crypto.randomBytes(16).toString('hex');
  const signature = crypto.createHmac('sha256', apiSecret).update(date + salt).digest('hex');
  return `HMAC-SHA256 apiKey=${apiKey}, date=${date}, salt=${salt}, signature=${signature}`;
}

export function createCoolSmsClient(opts: CoolSmsOptions): SmsProvider {
  const url = `${(opts.baseUrl ?? 'https://api.coolsms.co.kr').replace(/\/$/, '')}/messages/v4/send`;
  // Up to 3 retries. A timed-out attempt may still have been accepted, so a retry after a timeout can
  // deliver a message twice; for the short transactional texts sent here, a duplicate beats a loss.
  const retry = opts.retry ?? { retries: 3, baseDelayMs: 250 };

  async function sendOnce(to: string, text: string): Promise<string> {
    const res = await fetchOnce(url, {
      service: SERVICE,
      timeoutMs: opts.timeoutMs,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: coolSmsAuthorization(opts.apiKey, opts.apiSecret) },
      body: JSON.stringify({ message: { to, from: opts.sender, text } }),
    });
    const body = (await readJson(res)) as { messageId?: string; statusCode?: string; statusMessage?: string; errorCode?: string; errorMessage?: string } | undefined;
    if (res.ok && body?.statusCode === ACCEPTED && body.messageId) return body.messageId;
    if (res.ok) {
      throw new SmsProviderError(SERVICE, `status_${body?.statusCode ?? 'unknown'}`, 'message not accepted', { status: res.status, retryable: false });
    }
    // 5xx (InternalError) and 429 are the provider's trouble; 4xx (ValidationError, NotEnoughBalance,
    // SignatureDoesNotMatch, InvalidAPIKey, ...) are ours and repeat identically on retry.
    const retryable = res.status >= 500 || res.status === 429;
    throw new SmsProviderError(SERVICE, body?.errorCode ?? `HTTP_${res.status}`, `HTTP ${res.status}`, { status: res.status, retryable, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) });
  }

  return {
    name: 'coolsms',
    offline: false,
    send: async (message, sendOpts = {}) => {
      let attempt = 0;
      const messageId = await withRetries(
        retry,
        (n) => {
          attempt = n;
          return sendOnce(message.to, message.text);
        },
        async (err, n, willRetry) => {
          const code = err instanceof ProviderCallError ? err.code : 'internal_error';
          if (!willRetry) opts.logger?.warn({ provider: SERVICE, code, attempt: n }, 'sms send failed');
          await sendOpts.onAttempt?.({ attempt: n, ok: false, code, message: err instanceof Error ? err.message : String(err), willRetry });
        },
      );
      await sendOpts.onAttempt?.({ attempt, ok: true, messageId });
      return { messageId, offline: false };
    },
  };
}
