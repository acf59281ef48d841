// A concurrency cap per app module, so one busy app cannot take every upstream connection and
// starve the others: at most `concurrency` calls run, up to `queue` wait (each at most
// `queueTimeoutMs`), and the rest are refused at once with a typed 503.
//
// Hand-written, not cockatiel's bulkhead (4.0.0): it has no per-waiter queue timeout, and a waiter
// whose signal fires (or that we give up on) keeps its queue place until a running call ends and
// dequeues it, so abandoned waiters would count as `queued` and refuse live callers as busy. Here
// a waiter leaves the queue the moment it is cancelled or times out. Cost is not the reason
// (bench/retry.ts: both well under a microsecond per call).
import { z } from 'zod';
import { llmBusy, llmCancelled } from './errors.ts';

// A bare number is the concurrency, with a queue twice as long.
const limitsSchema = z.union([
  z.number().int().min(1).transform((concurrency) => ({ concurrency, queue: concurrency * 2 })),
  z.object({ concurrency: z.number().int().min(1), queue: z.number().int().min(0) }).strict(),
], { error: 'a concurrency ≥ 1, or { "concurrency": ≥ 1, "queue": ≥ 0 }' });
export const bulkheadsSchema = z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'module names are lower-case'), limitsSchema);

export type BulkheadLimits = { concurrency: number; queue: number };

// Each module declares its own limits in its definition (llmBulkhead); LLM_BULKHEADS_JSON overrides
// them, and a module that declares none gets this.
export const DEFAULT_MODULE_BULKHEAD: BulkheadLimits = { concurrency: 5, queue: 10 };
export type BulkheadStats = BulkheadLimits & { active: number; queued: number };
export type Bulkhead = {
  acquire: (signal?: AbortSignal) => Promise<() => void>;
  stats: () => BulkheadStats;
};

type Waiter = { grant: () => void };

export function createBulkhead(opts: BulkheadLimits & { module: string; queueTimeoutMs: number }): Bulkhead {
  let active = 0;
  const waiting: Waiter[] = [];

  function release(): void {
    const next = waiting.shift();
    if (next) next.grant();
    else active--;
  }

  function releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  return {
    stats: () => ({ concurrency: opts.concurrency, queue: opts.queue, active, queued: waiting.length }),
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(llmCancelled());
      if (active < opts.concurrency) {
        active++;
        return Promise.resolve(releaser());
      }
      if (waiting.length >= opts.queue) return Promise.reject(llmBusy(opts.module));
      return new Promise((resolve, reject) => {
        const leave = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
        };
        const onAbort = () => {
          leave();
          reject(llmCancelled());
        };
        // The slot passes straight from the releasing call to this one: `active` stays the same.
        const waiter: Waiter = {
          grant: () => {
            leave();
            resolve(releaser());
          },
        };
        const timer = setTimeout(() => {
          leave();
          reject(llmBusy(opts.module));
        }, opts.queueTimeoutMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(waiter);
      });
    },
  };
}
