// fetch with a timeout, retries with exponential backoff and full jitter, and typed errors:
// the one way integrations call an HTTP API. The retry schedule and loop are integrations/retry.ts.
import { retryWithBackoff } from './retry.ts';

export class ProviderError extends Error {
  readonly service: string;
  readonly status?: number;
  readonly retryable: boolean;
  // The provider's error body (first 8 KB), for clients that map provider error codes.
  readonly responseBody?: string;
  constructor(service: string, message: string, opts: { status?: number; retryable: boolean; cause?: unknown; responseBody?: string }) {
    super(`${service}: ${message}`, { cause: opts.cause });
    this.name = 'ProviderError';
    this.service = service;
    this.status = opts.status;
    this.retryable = opts.retryable;
    this.responseBody = opts.responseBody;
  }
}

export type FetchRetryOptions = RequestInit & {
  service: string;
  timeoutMs: number;
  retries: number;
  baseDelayMs?: number;
};

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export async function fetchWithRetry(url: string, opts: FetchRetryOptions): Promise<Response> {
  const { service, timeoutMs, retries, baseDelayMs = 200, ...init } = opts;
  return withRetries({ retries, baseDelayMs }, async () => {
    let res: Response;
    try {
      const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      res = await fetch(url, { ...init, signal });
    } catch (err) {
      // The caller's own abort is not a provider failure and is never retried.
      if (init.signal?.aborted) throw err;
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new ProviderError(service, timedOut ? `timed out after ${timeoutMs} ms` : 'network error', { retryable: true, cause: err });
    }
    if (res.ok) return res;
    const responseBody = (await res.text().catch(() => '')).slice(0, 8192);
    throw new ProviderError(service, `HTTP ${res.status}`, { status: res.status, retryable: RETRYABLE_STATUS.has(res.status), responseBody });
  });
}

// Retries for provider clients whose every attempt must be built afresh and seen by the caller
// (CoolSMS refuses a reused signature, an FCM retry after a 401 needs a new access token, the SMS
// log records each attempt): they make one attempt at a time with fetchOnce, classify the response
// into a typed ProviderCallError, and retry through withRetries. fetchWithRetry is the same loop
// for clients that can simply resend the request.

export type RetryPolicy = {
  retries: number;
  baseDelayMs: number;
  // Upper bound for a provider's Retry-After, so one answer cannot park a caller for minutes.
  maxDelayMs?: number;
};

// A ProviderError that carries the provider's own error code and an optional Retry-After.
export class ProviderCallError extends ProviderError {
  readonly code: string;
  readonly retryAfterMs?: number;
  constructor(service: string, code: string, message: string, opts: { status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(service, message, opts);
    this.name = 'ProviderCallError';
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

// Retries retryable ProviderErrors with full jitter: many clients failing together spread out.
export function withRetries<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, onFailure?: (err: unknown, n: number, willRetry: boolean) => Promise<void> | void): Promise<T> {
  return retryWithBackoff({ retries: policy.retries, baseDelayMs: policy.baseDelayMs, maxDelayMs: policy.maxDelayMs ?? 30_000, jitter: 'full' }, attempt, {
    retryable: (err) => err instanceof ProviderError && err.retryable,
    retryAfterMs: (err) => (err instanceof ProviderCallError ? err.retryAfterMs : undefined),
    onFailure,
  });
}

// One request with a timeout; network failures and timeouts become retryable ProviderErrors.
// Any HTTP status is returned for the caller to classify.
export async function fetchOnce(url: string, init: RequestInit & { service: string; timeoutMs: number }): Promise<Response> {
  const { service, timeoutMs, ...rest } = init;
  try {
    return await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError';
    throw new ProviderCallError(service, timedOut ? 'timeout' : 'network_error', timedOut ? `timed out after ${timeoutMs} ms` : 'network error', { retryable: true, cause: err });
  }
}

// Retry-After in seconds or as an HTTP date.
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export async function readJson(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => '');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
