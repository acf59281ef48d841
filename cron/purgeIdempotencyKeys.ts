import type { CronJob } from '../server/cronRunner.ts';
import { purgeExpiredIdempotencyKeys } from '../services/idempotency.ts';

export const purgeIdempotencyKeys: CronJob = {
  name: 'purge-idempotency-keys',
  schedule: '41 * * * *',
  description: 'Delete stored idempotent responses older than 24 hours',
  run: async ({ em }) => ({ deleted: await purgeExpiredIdempotencyKeys(em) }),
};
