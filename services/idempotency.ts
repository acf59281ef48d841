// Idempotency keys for our own mutating routes (a route declares `idempotent: true`): the first
// successful response is stored and replayed for a retry with the same key; the same key with other
// parameters is a 409. A request that failed releases its key, so the client may retry it as it is.
import crypto from 'node:crypto';
import { z } from 'zod';
import { AppError, badRequest, conflict } from './errors.ts';
import type { Em } from './transaction.ts';

const TTL_HOURS = 24;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{8,100}$/, '8-100 characters of letters, digits and ._:-');

export type IdempotentRequest = {
  userId: string;
  key: string | undefined;
  // What the key is bound to, e.g. `POST /admin/payments/ord_1/refund`: a key is per user, and a
  // retry must name the same operation and send the same request.
  scope: string;
  request: unknown;
};
export type IdempotentResponse = { status: number; body: unknown };
export type StoredResponse = IdempotentResponse & { replayed: boolean };

// What the HTTP layer is handed by the composition root; the key it passes to `work` is the
// validated one.
export type IdempotencyRunner = (opts: IdempotentRequest, work: (key: string) => Promise<IdempotentResponse>) => Promise<StoredResponse>;

export async function withIdempotency(em: Em, opts: IdempotentRequest, work: (key: string) => Promise<IdempotentResponse>): Promise<StoredResponse> {
  const { key } = opts;
  if (!key) throw new AppError(400, 'idempotency_key_required', 'Send an Idempotency-Key header (8-100 characters) with this request', { issues: [{ field: 'Idempotency-Key', in: 'header', message: 'required' }] });
  if (!idempotencyKeySchema.safeParse(key).success) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 8-100 characters of letters, digits and ._:-', 'Idempotency-Key');
  const requestHash = crypto.createHash('sha256').update(opts.scope).update('\0').update(JSON.stringify(opts.request ?? null)).digest('hex');

  const claimed = await em.execute<{ key: string }[]>(
    `insert into idempotency_keys (user_id, key, scope, request_hash, state, expires_at)
     values (?, ?, ?, ?, 'in_progress', now() + interval '${TTL_HOURS} hours')
     on conflict (user_id, key) do nothing returning key`,
    [opts.userId, key, opts.scope, requestHash],
  );
  if (claimed.length === 0) {
    const [existing] = await em.execute<{ scope: string; request_hash: string; state: string; response_status: number; response_body: unknown }[]>(
      'select scope, request_hash, state, response_status, response_body from idempotency_keys where user_id = ? and key = ?',
      [opts.userId, key],
    );
    if (!existing) return withIdempotency(em, opts, work); // released by a failed attempt meanwhile
    if (existing.scope !== opts.scope || existing.request_hash !== requestHash) {
      throw conflict('idempotency_key_reused', 'This Idempotency-Key was used with different parameters', 'Idempotency-Key');
    }
    if (existing.state !== 'completed') throw conflict('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key');
    return { status: existing.response_status, body: existing.response_body, replayed: true };
  }

  try {
    const response = await work(key);
    await em.execute(
      `update idempotency_keys set state = 'completed', response_status = ?, response_body = ? where user_id = ? and key = ?`,
      [response.status, JSON.stringify(response.body ?? null), opts.userId, key],
    );
    return { ...response, replayed: false };
  } catch (err) {
    await em.execute('delete from idempotency_keys where user_id = ? and key = ?', [opts.userId, key]);
    throw err;
  }
}

export async function purgeExpiredIdempotencyKeys(em: Em): Promise<number> {
  const rows = await em.execute<{ n: string }[]>('with gone as (delete from idempotency_keys where expires_at < now() returning 1) select count(*) as n from gone');
  return Number(rows[0].n);
}
