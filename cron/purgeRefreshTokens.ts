import type { CronJob } from '../server/cronRunner.ts';
import { purgeDeadSessions } from '../services/identity/sessions.ts';

export const purgeRefreshTokens: CronJob = {
  name: 'purge-refresh-tokens',
  schedule: '17 * * * *',
  description: 'Delete expired refresh tokens and expired or revoked sessions',
  run: async ({ em }) => purgeDeadSessions(em),
};
