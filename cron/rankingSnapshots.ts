import type { CronJob } from '../server/cronRunner.ts';
import type { RankingService } from '../services/rankings/rankings.ts';

// The previous KST day's closing ranks for every board, then every board's live Redis sets rebuilt
// from Postgres, so a Redis loss or writes it missed heal here at the latest. The day is taken from
// the clock, not the schedule: the runner fires in TIME_ZONE, and in any zone the previous KST day is
// complete by then. A re-run (another runner, a retry) writes the same snapshot again.
export const rankingSnapshots = (rankings: RankingService): CronJob => ({
  name: 'ranking-snapshots',
  schedule: '5 0 * * *',
  description: "Snapshot every ranking board's previous KST day and rebuild the live Redis sets from Postgres",
  run: ({ signal }) => rankings.runDaily({ signal }),
});
