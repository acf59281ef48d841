// Every scheduled job, built from the services it calls. A module adds its jobs here.
import type { CronJob } from '../server/cronRunner.ts';
import type { Services } from '../server/context.ts';
import { expirePendingPayments } from './expirePendingPayments.ts';
import { purgeIdempotencyKeys } from './purgeIdempotencyKeys.ts';
import { purgeMessageLogs } from './purgeMessageLogs.ts';
import { purgeRefreshTokens } from './purgeRefreshTokens.ts';
import { retryCoachCheckouts } from './retryCoachCheckouts.ts';

export function cronJobs(services: Services): CronJob[] {
  return [purgeRefreshTokens, purgeMessageLogs, purgeIdempotencyKeys, expirePendingPayments(services.payments), retryCoachCheckouts(services.coachSubscriptions)];
}
