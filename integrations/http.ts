// fetch with a timeout, retries with exponential backoff and full jitter, and typed errors:
// the one way integrations call an HTTP API.

export class ProviderError extends Error {
  readonly service: string;
  readonly status?: number;
  readonly retryable: boolean;
  constructor(service: string, message: string, opts: { status?: number; retryable: boolean; cause?: unknown }) {
    super(`${service}: ${message}`, { cause: opts.cause });
    this.name = 'ProviderError';
    this.service = service;
    this.status = opts.status;
    this.retryable = opts.retryable;
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
  for (let attempt = 0; ; attempt++) {
    let error: ProviderError;
    try {
      const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      const res = await fetch(url, { ...init, signal });
      if (res.ok) return res;
      error = new ProviderError(service, `HTTP ${res.status}`, { status: res.status, retryable: RETRYABLE_STATUS.has(res.status) });
      await res.body?.cancel();
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const timedOut = (err as Error).name === 'TimeoutError';
      error = new ProviderError(service, timedOut ? `timed out after ${timeoutMs} ms` : 'network error', { retryable: true, cause: err });
    }
    if (!error.retryable || attempt >= retries) throw error;
    await new Promise((r) => setTimeout(r, Math.random() * baseDelayMs * 2 ** attempt));
  }
}
