// A concurrency cap per app module, so one busy app cannot take every upstream connection and
// starve the others: at most `concurrency` calls run, up to `queue` wait (each at most
// `queueTimeoutMs`), and the rest are refused at once with a typed 503.
import { z } from 'zod';
import { llmBusy, llmCancelled } from './errors.ts';

// A bare number is the concurrency, with a queue twice as long.
const limitsSchema = z.union([
  z.number().int().min(1).transform((concurrency) => ({ concurrency, queue: concurrency * 2 })),
  z.object({ concurrency: z.number().int().min(1), queue: z.number().int().min(0) }).strict(),
], { error: 'a concurrency ≥ 1, or { "concurrency": ≥ 1, "queue": ≥ 0 }' });
export const bulkheadsSchema = z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'module names are lower-case'), limitsSchema);

export type BulkheadLimits = { concurrency: number; queue: number };

// rizz makes few, slow calls per paid job; coach and chat stream answers to many users at once:
// a streamed answer holds its slot for seconds while costing this node almost nothing, and the
// coach is expected to carry 200 concurrent streams per node (bench/coach.ts).
export const DEFAULT_BULKHEADS: Record<string, BulkheadLimits> = {
  coach: { concurrency: 200, queue: 200 },
  chat: { concurrency: 200, queue: 200 },
  rizz: { concurrency: 5, queue: 10 },
};
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
