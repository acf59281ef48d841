// The one way services open a transaction. Serialization failures and deadlocks are retried,
// because under concurrent writers Postgres reports them as normal outcomes, not bugs.
import type { EntityManager } from '@mikro-orm/postgresql';
import { retryWithBackoff, type RetrySchedule } from '../integrations/retry.ts';

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
// Four attempts in all, about 10, 20 and 40 ms apart: the conflicting transaction is usually done
// by then, and ±50 % jitter keeps two losers from colliding again in step.
const RETRY: RetrySchedule = { retries: 3, baseDelayMs: 10, maxDelayMs: 100, jitter: 0.5 };

export type Em = EntityManager;

// What runs once a transaction has committed (a notification about what it did), by transaction.
const committedHooks = new WeakMap<Em, (() => void)[]>();

export function inTransaction<T>(em: Em, work: (tx: Em) => Promise<T>): Promise<T> {
  return retryWithBackoff(RETRY, async () => {
    // A fresh list per attempt: what a rolled-back attempt asked for never runs.
    const hooks: (() => void)[] = [];
    const result = await em.transactional((tx) => {
      committedHooks.set(tx as Em, hooks);
      return work(tx as Em);
    });
    for (const hook of hooks) hook();
    return result;
  }, {
    retryable: (err) => RETRYABLE_SQLSTATES.has(sqlState(err)),
  });
}

// Runs `hook` after `tx` commits, or never if it rolls back: for side effects outside the database
// (a notification, an emit) that must not announce what did not happen. Outside a transaction
// opened by inTransaction it runs at once. The hook's own failures are its to handle.
export function onCommitted(tx: Em, hook: () => void): void {
  const hooks = committedHooks.get(tx);
  if (hooks) hooks.push(hook);
  else hook();
}

export function sqlState(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505' || (err as Error)?.name === 'UniqueConstraintViolationException';
}
