// Every scheduled job. A module adds its jobs here.
import type { CronJob } from '../server/cronRunner.ts';
import { purgeRefreshTokens } from './purgeRefreshTokens.ts';

export const cronJobs: CronJob[] = [purgeRefreshTokens];
