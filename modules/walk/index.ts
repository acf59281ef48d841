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
import { checkWalkConfig, walkConfigSchema, type WalkConfig } from './config.ts';
import { socialRoutes } from '../../routes/social.ts';
import { walkSocialRoutes } from '../../routes/walk/social.ts';
import { walkFriendRecommendations } from '../../cron/walk/social.ts';
import { createWalkSocialService } from '../../services/walk/social.ts';
import { walkEvents } from '../../realtime/walk.ts';
import { walkServerEvents } from '../../services/walk/schemas.ts';
import { createTogetherService } from '../../services/walk/together.ts';
import { badgeRoutes } from '../../routes/walk/badges.ts';
import { walkBadgesReevaluate } from '../../cron/walk/badges.ts';
import { createBadgeService, seedBadgeDefinitions } from '../../services/walk/badges.ts';
import { outsideRoutes } from '../../routes/walk/outside.ts';
import { walkOutsideRefresh } from '../../cron/walk/outside.ts';
import { createOutsideService, outsideProviders } from '../../services/walk/outside.ts';
import { walkSubscriptionRoutes } from '../../routes/walk/subscription.ts';
import { walkSubscriptionRenewals } from '../../cron/walk/subscriptions.ts';
import { createWalkSubscriptionService, type BillingOption } from '../../services/walk/subscription.ts';
import { storeSubscriptionRoutes } from '../../routes/walk/storeSubscriptions.ts';
import { createStoreSubscriptionService, storeSettings } from '../../services/walk/storeSubscriptions.ts';
import { invitationRoutes } from '../../routes/walk/invitations.ts';
import { walkInvitationsStart } from '../../cron/walk/invitations.ts';
import { createInvitationService } from '../../services/walk/invitations.ts';
import { Counter } from 'prom-client';
import { shareCardRoutes } from '../../routes/walk/shareCards.ts';
import { createShareCardService, renderShareCardTask } from '../../services/walk/shareCards.ts';
import { walkReminders } from '../../cron/walk/reminders.ts';
import { createReminderService } from '../../services/walk/reminders.ts';
import { walkRankingResults } from '../../cron/walk/rankingResults.ts';
import { createRankingResultService } from '../../services/walk/rankingResults.ts';

export const walkModule = defineModule({
  name: 'walk',
  summary: 'withbowwow: dog walks checked for cheating, streaks, badges, rankings and walking together',
  // The seed's token lifetimes for this app (a sign-in with `app: 'walk'`): access 60 min, refresh 7 days.
  tokenLifetimes: { accessSeconds: 60 * 60, refreshSeconds: 7 * 24 * 60 * 60 },
  config: walkConfigSchema,
  checkConfig: checkWalkConfig,
  migrations: walkMigrations,
  // The 47 badge definitions, upserted at every migration (services/walk/badges.ts).
  seed: seedBadgeDefinitions,
  // The seed's seven push types (reminder, badge, follower, like or comment, meetup change, ranking
  // result, invitation), each a switch in the user's notification settings (GET|PUT
  // /notifications/settings `types`) under its category's switch, each with its own push limit per
  // user (a burst beyond it still reaches the inbox and sockets, just not the lock screen).
  notificationTypes: {
    'walk.reminder': { category: 'walk', pushLimit: { max: 1, windowSeconds: 6 * 3600 }, summary: 'Time for your usual walk: sent before your usual walk hour on a day you have not walked yet, once a day (data: localDate, usualHour)' },
    'walk.badge_earned': { category: 'walk', pushLimit: { max: 5, windowSeconds: 3600 }, summary: 'You earned a badge (data: badgeCode, category, name, tier)' },
    'walk.new_follower': { category: 'social', pushLimit: { max: 5, windowSeconds: 3600 }, summary: 'Someone followed you (data: userId)' },
    'walk.reaction': { category: 'social', pushLimit: { max: 3, windowSeconds: 3600 }, summary: 'Someone liked or commented on your walk (data: action liked|commented, walkId, likeCount when liked, commentId when commented)' },
    'walk.meetup_changed': { category: 'walk', pushLimit: { max: 6, windowSeconds: 3600 }, summary: 'A meetup you joined has a new time or place, or was cancelled by its host (data: action updated|cancelled, meetupId; updated: changes, placeName, lat, lng, startsAt, endsAt; cancelled: title, startsAt)' },
    'walk.ranking_result': { category: 'walk', pushLimit: { max: 2, windowSeconds: 24 * 3600 }, summary: 'Your final rank of the KST week that just closed, once per week (data: periodStart, distanceRank, distanceM, countRank, walks, walkers)' },
    'walk.invitation': { category: 'walk', pushLimit: { max: 10, windowSeconds: 3600 }, summary: 'A walk invitation: to an invitee when invited or cancelled, to the inviter when answered (data: action invited|accepted|declined|cancelled, invitationId, inviterId, inviteeId when answered, startsAt, placeName)' },
    'walk.subscription': { category: 'payment', pushLimit: { max: 3, windowSeconds: 24 * 3600 }, summary: 'Premium by card: a renewal charge failed and will be retried, or premium ended after the last retry (data: event payment_failed|expired, reason, attempt, nextAttemptAt)' },
  },
  serverEvents: walkServerEvents,
  // Share cards are drawn on the platform's pool (workers/walk/shareCard.ts).
  workerTasks: [renderShareCardTask],
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
    walkSubscriptionRoutes(api, { subscription: walk.subscription });
    storeSubscriptionRoutes(api, { storeSubscriptions: walk.storeSubscriptions });
    shareCardRoutes(api, { shareCards: walk.shareCards });
    invitationRoutes(api, { invitations: walk.invitations });
  },
  cron: (walk) => [walkRankingsRecompute(walk.rankings), walkBadgesReevaluate(walk.badges), walkFriendRecommendations(walk.social), walkOutsideRefresh(walk.outside), walkInvitationsStart(walk.invitations), walkReminders(walk.reminders), walkRankingResults(walk.rankingResults), walkSubscriptionRenewals(walk.subscription)],
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
  const meetups = createMeetupService({ em, clock, time, logger, notify: platform.notify, together });
  // Weather, air and nearby animal hospitals (services/walk/outside.ts): real clients where keys are set.
  const outside = createOutsideService({ em, clock, time, logger, providers: outsideProviders(config) });
  // Walk invitations to followers (services/walk/invitations.ts): an accepted one opens a walk-together session at its time.
  const invitations = createInvitationService({ em, clock, time, logger, notify: platform.notify, together });
  // Share cards of trusted walks (services/walk/shareCards.ts): drawn in the worker pool once per version, stored.
  const cardsDrawn = (platform.metrics.registry.getSingleMetric('walk_share_cards_rendered_total') as Counter | undefined)
    ?? new Counter({ name: 'walk_share_cards_rendered_total', help: 'Walk share cards drawn (a card asked for again is reused, not drawn)', registers: [platform.metrics.registry] });
  const shareCards = createShareCardService({ em, time, logger, pool: platform.pool, storage: platform.storage, profiles, onRendered: () => cardsDrawn.inc() });
  // Push: the walk reminder before each walker's usual hour, and each walker's final rank of a closed week.
  const reminders = createReminderService({
    em, clock, time, logger, notify: platform.notify,
    switchedOff: (userIds) => platform.notifications.settings.switchedOff(userIds, 'walk.reminder', 'walk'),
  });
  const rankingResults = createRankingResultService({ em, clock, logger, notify: platform.notify });
  // Premium (services/walk/subscription.ts): Toss recurring billing (the offline sandbox without Toss keys)
  // and the stores' changes, one state; the gate is services/walk/premium.ts.
  const subscription = createWalkSubscriptionService({
    em, clock, time, logger, personalData: platform.personalData, notify: platform.notify, signingSecret: platform.config.URL_SIGNING_SECRET,
    plan: { productId: 'walk_premium_monthly', amount: config.WALK_PREMIUM_MONTHLY_KRW, orderName: config.WALK_PREMIUM_ORDER_NAME },
    billing: () => billingOption(platform),
  });
  // Premium bought in the App Store and Google Play (services/walk/storeSubscriptions.ts): verified
  // store notifications become applyStoreChange calls, recorded once each.
  const storeSubscriptions = createStoreSubscriptionService({ em, clock, logger, applyStoreChange: subscription.applyStoreChange, ...storeSettings(config, platform.config) });
  return { config, shareCards, profiles, pets, walks, onWalkComplete, rankings, together, badges, social, meetups, outside, invitations, reminders, rankingResults, subscription, storeSubscriptions };
}

// Card billing for premium: Toss where it is configured, else the offline sandbox (development).
function billingOption(platform: ModulePlatform<typeof walkServerEvents>): BillingOption | undefined {
  const name = platform.config.TOSS_SECRET_KEY ? 'toss' : platform.config.paymentsSandbox ? 'sandbox' : undefined;
  if (!name) return undefined;
  const provider = platform.payments.provider(name);
  return provider.billing ? { name, offline: provider.offline, billing: provider.billing, lookup: provider.lookup } : undefined;
}

export type WalkServices = ReturnType<typeof createWalkServices>;
