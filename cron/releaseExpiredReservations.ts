import type { CronJob } from '../server/cronRunner.ts';
import type { PointsWallet } from '../services/billing/points.ts';

// Points held for work whose node died before settling them come back to their owners.
export const releaseExpiredReservations = (points: PointsWallet): CronJob => ({
  name: 'release-expired-point-reservations',
  schedule: '*/5 * * * *',
  description: 'Give back points held for work that never settled them (its node stopped) once the hold expires',
  run: async () => ({ released: await points.releaseExpired() }),
});
