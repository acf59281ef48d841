// Idempotency keys moved to services/idempotency.ts (they are not billing's); this path stays for
// the cron job that purges them.
export { purgeExpiredIdempotencyKeys } from '../idempotency.ts';
