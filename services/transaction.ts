// The one way services open a transaction. Serialization failures and deadlocks are retried,
// because under concurrent writers Postgres reports them as normal outcomes, not bugs.
import type { EntityManager } from '@mikro-orm/postgresql';

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 4;

export type Em = EntityManager;

export async function inTransaction<T>(em: Em, work: (tx: Em) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.transactional((tx) => work(tx as Em));
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !RETRYABLE_SQLSTATES.has(sqlState(err))) throw err;
      await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
    }
  }
}

export function sqlState(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505' || (err as Error)?.name === 'UniqueConstraintViolationException';
}
