// Idempotency keys for our own mutating payment routes: the first successful response is stored
// and replayed for a retry with the same key; the same key with other parameters is a 409. A request
// that failed releases its key, so the client may retry it as it is.
import crypto from 'node:crypto';
import { AppError, badRequest, conflict } from '../errors.ts';
import type { Em } from '../transaction.ts';

const KEY = /^[A-Za-z0-9_.:-]{8,100}$/;
const TTL_HOURS = 24;

export type StoredResponse = { status: number; body: unknown; replayed: boolean };

export async function withIdempotency(
  em: Em,
  opts: { userId: string; key: string | undefined; scope: string; request: unknown },
  run: () => Promise<{ status: number; body: unknown }>,
): Promise<StoredResponse> {
  if (!opts.key) throw new AppError(400, 'idempotency_key_required', 'Send an Idempotency-Key header (8-100 characters) with this request', { issues: [{ field: 'Idempotency-Key', in: 'header', message: 'required' }] });
  if (!KEY.test(opts.key)) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 8-100 characters of letters, digits and ._:-', 'Idempotency-Key');
  const requestHash = crypto.createHash('sha256').update(opts.scope).update('\0').update(JSON.stringify(opts.request ?? null)).digest('hex');

  const claimed = await em.execute<{ key: string }[]>(
    `insert into idempotency_keys (user_id, key, scope, request_hash, state, expires_at)
     values (?, ?, ?, ?, 'in_progress', now() + interval '${TTL_HOURS} hours')
     on conflict (user_id, key) do nothing returning key`,
    [opts.userId, opts.key, opts.scope, requestHash],
  );
  if (claimed.length === 0) {
    const [existing] = await em.execute<{ scope: string; request_hash: string; state: string; response_status: number; response_body: unknown }[]>(
      'select scope, request_hash, state, response_status, response_body from idempotency_keys where user_id = ? and key = ?',
      [opts.userId, opts.key],
    );
    if (!existing) return withIdempotency(em, opts, run); // released by a failed attempt meanwhile
    if (existing.scope !== opts.scope || existing.request_hash !== requestHash) {
      throw conflict('idempotency_key_reused', 'This Idempotency-Key was used with different parameters', 'Idempotency-Key');
    }
    if (existing.state !== 'completed') throw conflict('idempotency_request_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly', 'Idempotency-Key');
    return { status: existing.response_status, body: existing.response_body, replayed: true };
  }

  try {
    const response = await run();
    await em.execute(
      `update idempotency_keys set state = 'completed', response_status = ?, response_body = ? where user_id = ? and key = ?`,
      [response.status, JSON.stringify(response.body), opts.userId, opts.key],
    );
    return { ...response, replayed: false };
  } catch (err) {
    await em.execute('delete from idempotency_keys where user_id = ? and key = ?', [opts.userId, opts.key]);
    throw err;
  }
}

export async function purgeExpiredIdempotencyKeys(em: Em): Promise<number> {
  const rows = await em.execute<{ n: string }[]>('with gone as (delete from idempotency_keys where expires_at < now() returning 1) select count(*) as n from gone');
  return Number(rows[0].n);
}
