// The one retry policy: provider clients (integrations/http.ts), the LLM gateway and the
// transaction helper all retry through retryWithBackoff, so the schedule and the loop live here.
//
// Schedule: exponential (base, 2×base, 4×base, …) with jitter, never above `maxDelayMs`. A server's
// Retry-After wins over a shorter step but is held to the same cap, so one answer cannot park a
// caller for minutes.
//
// Loop: cockatiel's retry() decides, attempt by attempt, whether to go again. Its wait is not used:
// cockatiel 4.0.0 sleeps between attempts on a timer that ignores the AbortSignal (RetryPolicy's
// delay() takes none), so a caller who leaves during a backoff would stay parked for the whole
// wait, and a timer would outlive the call. Its backoff is therefore zero, and the wait runs here at
// the start of the next attempt, ended at once by the signal.
import { setTimeout as sleep } from 'node:timers/promises';
import { ConstantBackoff, handleWhen, retry } from 'cockatiel';

export type Backoff = {
  // The first wait; each further one doubles.
  baseDelayMs: number;
  // No wait is longer, the server's Retry-After included.
  maxDelayMs: number;
  // 'full': anywhere in [0, step) ("full jitter", for callers that should spread out);
  // a fraction f: within step × (1 ± f) (a schedule that stays near its nominal steps).
  jitter: 'full' | number;
  random?: () => number;
};

export type RetrySchedule = Backoff & {
  // Attempts after the first; 0 never retries.
  retries: number;
};

export type RetryHooks = {
  // May the failure of attempt `n` (from 1) be retried? Asked only while retries remain and the
  // signal has not fired.
  retryable: (err: unknown, n: number) => boolean;
  // How long the server asked us to wait, if it did.
  retryAfterMs?: (err: unknown) => number | undefined;
  // Every failed attempt, before any wait; awaited, so a caller can record the attempt first.
  onFailure?: (err: unknown, n: number, willRetry: boolean) => void | Promise<void>;
  // Ends a wait between attempts at once with a RetryCancelledError. The attempts themselves get
  // no signal from here: each caller passes its own to what it calls.
  signal?: AbortSignal;
};

// The signal fired while the loop waited for the next attempt.
export class RetryCancelledError extends Error {
  // The failure that was about to be retried.
  readonly lastError: unknown;
  constructor(lastError: unknown, reason: unknown) {
    super('cancelled while waiting to retry', { cause: reason });
    this.name = 'RetryCancelledError';
    this.lastError = lastError;
  }
}

// The wait before retry number `retryIndex + 1` (0 → about base, 1 → about 2×base, …).
export function backoffDelayMs(backoff: Backoff, retryIndex: number, retryAfterMs?: number): number {
  const step = backoff.baseDelayMs * 2 ** retryIndex;
  const r = (backoff.random ?? Math.random)();
  const jittered = backoff.jitter === 'full' ? step * r : step * (1 - backoff.jitter + 2 * backoff.jitter * r);
  return Math.min(Math.max(jittered, retryAfterMs ?? 0), backoff.maxDelayMs);
}

const NO_WAIT = new ConstantBackoff(0);
const NOTHING = Symbol('nothing to retry');

export async function retryWithBackoff<T>(schedule: RetrySchedule, attempt: (n: number) => Promise<T>, hooks: RetryHooks): Promise<T> {
  const { signal } = hooks;
  // The one failure cockatiel may handle: the one just judged retryable. Everything else leaves.
  let retrying: unknown = NOTHING;
  let waitMs = 0;
  const policy = retry(handleWhen((err) => err === retrying), { maxAttempts: schedule.retries, backoff: NO_WAIT });
  return policy.execute(async ({ attempt: index }) => {
    if (index > 0) {
      const lastError = retrying;
      retrying = NOTHING;
      try {
        await sleep(waitMs, undefined, { signal });
      } catch {
        throw new RetryCancelledError(lastError, signal?.reason);
      }
    }
    const n = index + 1;
    try {
      return await attempt(n);
    } catch (err) {
      const willRetry = n <= schedule.retries && !signal?.aborted && hooks.retryable(err, n);
      await hooks.onFailure?.(err, n, willRetry);
      if (willRetry) {
        retrying = err;
        waitMs = backoffDelayMs(schedule, index, hooks.retryAfterMs?.(err));
      }
      throw err;
    }
  }, signal);
}
