import type { CronJob } from '../../server/cronRunner.ts';
import type { WalkRankingService } from '../../services/walk/rankings.ts';

// The walk rankings' truth, recomputed hourly (seed 003: 1시간마다), then any week or month that
// closed at least an hour ago written to the hall of fame once. At minute 5, not 0: the platform's
// hourly jobs sit elsewhere, and a walk saved in the first minutes of the hour is in this run.
export function walkRankingsRecompute(rankings: WalkRankingService): CronJob {
  return {
    name: 'walk-rankings-recompute',
    schedule: '5 * * * *',
    description: 'Recompute the walk rankings (KST week, month, all time; distance and count; trusted walks) and close finished periods into the hall of fame',
    run: async ({ signal }) => {
      const { rows, closed, ms, periods } = await rankings.recompute({ signal });
      return { rows, closed, ms, periods };
    },
  };
}
