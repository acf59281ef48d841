import type { CronJob } from '../../server/cronRunner.ts';
import type { WalkSocialService } from '../../services/walk/social.ts';

// Friend recommendations (mutual follows, region, usual walk time) for every walker, twice a day.
export function walkFriendRecommendations(social: WalkSocialService): CronJob {
  return {
    name: 'walk-friend-recommendations',
    schedule: '15 */12 * * *',
    description: 'Recompute every walker\'s friend recommendations (mutual follows, region, usual walk time)',
    run: async () => social.recomputeRecommendations(),
  };
}
