// The one way services open a transaction. Serialization failures and deadlocks are retried,
// because under concurrent writers Postgres reports them as normal outcomes, not bugs.
import type { EntityManager } from '@mikro-orm/postgresql';
import { retryWithBackoff, type RetrySchedule } from '../integrations/retry.ts';

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
// Four attempts in all, about 10, 20 and 40 ms apart: the conflicting transaction is usually done
// by then, and ±50 % jitter keeps two losers from colliding again in step.
const RETRY: RetrySchedule = { retries: 3, baseDelayMs: 10, maxDelayMs: 100, jitter: 0.5 };

export type Em = EntityManager;

export function inTransaction<T>(em: Em, work: (tx: Em) => Promise<T>): Promise<T> {
  return retryWithBackoff(RETRY, () => em.transactional((tx) => work(tx as Em)), {
    retryable: (err) => RETRYABLE_SQLSTATES.has(sqlState(err)),
  });
}

export function sqlState(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505' || (err as Error)?.name === 'UniqueConstraintViolationException';
}
