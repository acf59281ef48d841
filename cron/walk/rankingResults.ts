import type { CronJob } from '../../server/cronRunner.ts';
import type { RankingResultService } from '../../services/walk/rankingResults.ts';

// Each walker's final rank of the week the hall of fame closed (services/walk/rankingResults.ts).
// Hourly at minute 20, after walk-rankings-recompute (minute 5) has closed the week: the Monday
// 01:05 KST run closes it, this one at 01:20 tells the walkers; later runs finish what one left.
export function walkRankingResults(results: RankingResultService): CronJob {
  return {
    name: 'walk-ranking-results',
    schedule: '20 * * * *',
    description: 'Tell every walker of the KST week that just closed their final rank, once',
    run: async ({ signal }) => results.deliver({ signal }),
  };
}
