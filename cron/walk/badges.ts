import type { CronJob } from '../../server/cronRunner.ts';
import type { BadgeService } from '../../services/walk/badges.ts';

// A badge rule changed (or a badge was added) in a release: every walker with a trusted walk is
// evaluated against the new rules, in batches, from a stored cursor, so a run cut short (a crash,
// the per-run bound, shutdown) is continued by the next. Every 10 minutes; a run with nothing stale
// is one small query.
export function walkBadgesReevaluate(badges: BadgeService): CronJob {
  return {
    name: 'walk-badges-reevaluate',
    schedule: '*/10 * * * *',
    description: 'Re-evaluate every walker\'s badges after a badge rule changed (resumable; earned badges stay earned)',
    run: async ({ signal }) => badges.reevaluateAll({ signal }),
  };
}
