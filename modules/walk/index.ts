// "withbowwow" (멍이랑, seed 003), the walking itself: walk profiles and pets, GPS walks checked for
// cheating in the geo worker, streaks, badges, rankings and walking together live on `/walk`.
// Follows, feed, invitations, meetups, subscriptions and outside data are Walk II.
import { walkMigrations } from '../../entities/migrations/walk/index.ts';
import { petRoutes, profileRoutes } from '../../routes/walk/profiles.ts';
import { walkRoutes } from '../../routes/walk/walks.ts';
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { createPetService } from '../../services/walk/pets.ts';
import { createProfileService } from '../../services/walk/profiles.ts';
import { createWalkService, type WalkCompleteHook } from '../../services/walk/walks.ts';
import { walkConfigSchema, type WalkConfig } from './config.ts';

const walkServerEvents = {};

export const walkModule = defineModule({
  name: 'walk',
  summary: 'withbowwow: dog walks checked for cheating, streaks, badges, rankings and walking together',
  config: walkConfigSchema,
  migrations: walkMigrations,
  serverEvents: walkServerEvents,
  createServices: (platform, config) => createWalkServices(platform, config),
  routes: (api, walk) => {
    profileRoutes(api, { profiles: walk.profiles });
    petRoutes(api, { pets: walk.pets });
    walkRoutes(api, { walks: walk.walks });
  },
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
  });
  return { config, profiles, pets, walks, onWalkComplete };
}

export type WalkServices = ReturnType<typeof createWalkServices>;
