// The platform's scheduled jobs, built from the services they call. A module brings its own jobs
// (its definition's cron); the cron process runs these and the enabled modules'.
import type { CronJob } from '../server/cronRunner.ts';
import type { Services } from '../server/context.ts';
import { expirePendingPayments } from './expirePendingPayments.ts';
import { purgeIdempotencyKeys } from './purgeIdempotencyKeys.ts';
import { purgeMessageLogs } from './purgeMessageLogs.ts';
import { purgeRefreshTokens } from './purgeRefreshTokens.ts';
import { rankingSnapshots } from './rankingSnapshots.ts';
import { releaseExpiredReservations } from './releaseExpiredReservations.ts';

export function cronJobs(services: Services): CronJob[] {
  return [
    purgeRefreshTokens, purgeMessageLogs, purgeIdempotencyKeys, expirePendingPayments(services.payments), releaseExpiredReservations(services.points), rankingSnapshots(services.rankings),
    ...services.modules.flatMap((m) => m.def.cron?.(m.services) ?? []),
  ];
}
