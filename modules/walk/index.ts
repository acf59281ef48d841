// "withbowwow" (멍이랑, seed 003), the walking itself: walk profiles and pets, GPS walks checked for
// cheating in the geo worker, streaks, badges, rankings and walking together live on `/walk`.
// Follows, feed, invitations, meetups, subscriptions and outside data are Walk II.
import { walkMigrations } from '../../entities/migrations/walk/index.ts';
import { petRoutes, profileRoutes } from '../../routes/walk/profiles.ts';
import { walkRoutes } from '../../routes/walk/walks.ts';
import { meetupRoutes } from '../../routes/walk/meetups.ts';
import { createMeetupService } from '../../services/walk/meetups.ts';
import { walkRankingRoutes } from '../../routes/walk/rankings.ts';
import { walkRankingsRecompute } from '../../cron/walk/rankings.ts';
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { createPetService } from '../../services/walk/pets.ts';
import { createProfileService } from '../../services/walk/profiles.ts';
import { createWalkRankingService } from '../../services/walk/rankings.ts';
import { createWalkService, type WalkCompleteHook } from '../../services/walk/walks.ts';
import { walkConfigSchema, type WalkConfig } from './config.ts';
import { socialRoutes } from '../../routes/social.ts';
import { walkSocialRoutes } from '../../routes/walk/social.ts';
import { walkFriendRecommendations } from '../../cron/walk/social.ts';
import { blockedEitherWay, createWalkSocialService } from '../../services/walk/social.ts';
import { walkEvents } from '../../realtime/walk.ts';
import { walkServerEvents } from '../../services/walk/schemas.ts';
import { createTogetherService } from '../../services/walk/together.ts';
import { badgeRoutes } from '../../routes/walk/badges.ts';
import { walkBadgesReevaluate } from '../../cron/walk/badges.ts';
import { createBadgeService, seedBadgeDefinitions } from '../../services/walk/badges.ts';
import { outsideRoutes } from '../../routes/walk/outside.ts';
import { walkOutsideRefresh } from '../../cron/walk/outside.ts';
import { createOutsideService, outsideProviders } from '../../services/walk/outside.ts';

export const walkModule = defineModule({
  name: 'walk',
  summary: 'withbowwow: dog walks checked for cheating, streaks, badges, rankings and walking together',
  // The seed's token lifetimes for this app (a sign-in with `app: 'walk'`): access 60 min, refresh 7 days.
  tokenLifetimes: { accessSeconds: 60 * 60, refreshSeconds: 7 * 24 * 60 * 60 },
  config: walkConfigSchema,
  migrations: walkMigrations,
  // The 47 badge definitions, upserted at every migration (services/walk/badges.ts).
  seed: seedBadgeDefinitions,
  notificationTypes: {
    'walk.badge_earned': { category: 'walk', summary: 'You earned a badge (data: badgeCode, category, name, tier)' },
    'walk.meetup_changed': { category: 'walk', summary: 'A meetup you joined has a new time or place (data: meetupId, changes, placeName, lat, lng, startsAt, endsAt)' },
    'walk.meetup_cancelled': { category: 'walk', summary: 'A meetup you joined was cancelled by its host (data: meetupId, title, startsAt)' },
    'walk.new_follower': { category: 'social', summary: 'Someone followed you (data: userId)' },
    'walk.liked': { category: 'social', summary: 'Someone liked your walk (data: walkId, likeCount)' },
    'walk.commented': { category: 'social', summary: 'Someone commented on your walk (data: walkId, commentId)' },
  },
  serverEvents: walkServerEvents,
  createServices: (platform, config) => createWalkServices(platform, config),
  routes: (api, walk) => {
    walkSocialRoutes(api, { social: walk.social });
    socialRoutes(api, { target: walk.social.walkTarget, path: '/walks', comments: '/walk-comments', noun: 'walk', tag: 'walk' });
    profileRoutes(api, { profiles: walk.profiles });
    petRoutes(api, { pets: walk.pets });
    walkRoutes(api, { walks: walk.walks });
    walkRankingRoutes(api, { rankings: walk.rankings });
    badgeRoutes(api, { badges: walk.badges });
    outsideRoutes(api, { outside: walk.outside });
    meetupRoutes(api, { meetups: walk.meetups });
  },
  cron: (walk) => [walkRankingsRecompute(walk.rankings), walkBadgesReevaluate(walk.badges), walkFriendRecommendations(walk.social), walkOutsideRefresh(walk.outside)],
  clientEvents: (walk) => walkEvents({ services: walk }),
  onShutdown: async (walk) => walk.together.stop(),
});

function createWalkServices(platform: ModulePlatform<typeof walkServerEvents>, config: WalkConfig) {
  const { em, time, clock, logger } = platform;
  // What a new walk moves, in the walk's own transaction (streak first, then badges and rankings).
  const onWalkComplete: WalkCompleteHook[] = [];
  const profiles = createProfileService({ em, time, clock });
  const pets = createPetService({ em, time, storage: platform.storage, pool: platform.pool });
  const walks = createWalkService({
    em, time, clock, logger, pool: platform.pool, storage: platform.storage, profiles, pets,
    limits: { maxPoints: config.WALK_MAX_TRACK_POINTS, minDistanceM: config.WALK_MIN_DISTANCE_M, maxSpeedKmh: config.WALK_MAX_SPEED_KMH },
    onWalkComplete,
    // A walk posted is a walk ended: the walker's walk-together sessions close (or they leave them).
    onCommittedWalk: (walk) => void together.endSessionsOfWalker(walk.userId).catch((err: unknown) => logger.warn({ err }, 'walk-together sessions not ended')),
    onPhotoAdded: (userId) => void badges.evaluateUser(userId).catch((err: unknown) => logger.warn({ err }, 'photo badges not evaluated')),
  });
  // Badges: re-evaluated in the walk's transaction, told after it commits (services/walk/badges.ts).
  const badges = createBadgeService({ em, clock, time, logger, notify: platform.notify });
  onWalkComplete.push(badges.onWalkComplete);
  // Rankings: the hourly recompute is the truth; the platform's boards give each trusted walk's instant feedback (services/walk/rankings.ts).
  const rankings = createWalkRankingService({
    em, clock, logger, boards: { distance: platform.rankings.define({ board: 'distance' }), count: platform.rankings.define({ board: 'count' }) },
  });
  onWalkComplete.push(rankings.onWalkComplete);
  // Walking together on /walk (services/walk/together.ts): positions and presence in Redis when configured.
  const together = createTogetherService({
    em, clock, time, logger, bus: platform.bus, realtime: platform.realtime, redis: platform.redis?.client, redisKeyPrefix: platform.redisKeyPrefix,
    limits: { staleMs: config.WALK_TOGETHER_STALE_SECONDS * 1000, sweepMs: config.WALK_TOGETHER_SWEEP_MS, abandonMs: config.WALK_TOGETHER_ABANDON_SECONDS * 1000 },
  });
  // Follows, blocks, likes and comments on walks, the feed and friend recommendations (services/walk/social.ts).
  const social = createWalkSocialService({ em, time, logger, social: platform.social, notify: platform.notify });
  // The meetups board (services/walk/meetups.ts): a host who blocked the viewer, or whom the viewer
  // blocked, has no meetups for them (404, left out of nearby).
  const meetups = createMeetupService({
    em, clock, time, logger, notify: platform.notify, together,
    canSee: async (db, viewerId, hostId) => !(await blockedEitherWay(db, viewerId, hostId)),
  });
  // Weather, air and nearby animal hospitals (services/walk/outside.ts): real clients where keys are set.
  const outside = createOutsideService({ em, clock, time, logger, providers: outsideProviders(config) });
  return { config, profiles, pets, walks, onWalkComplete, rankings, together, badges, social, meetups, outside };
}

export type WalkServices = ReturnType<typeof createWalkServices>;
