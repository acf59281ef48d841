import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { PLAN_TIERS } from './CoachPlan.ts';

// A user's coach plan. No row means free; a paid tier past planExpiresAt is free again.
export const CoachProfile = defineEntity({
  name: 'CoachProfile',
  tableName: 'coach_profiles',
  properties: {
    userId: p.uuid().primary(),
    planTier: p.enum([...PLAN_TIERS]).default('free'),
    planExpiresAt: p.datetime().nullable(),
    cancelAtPeriodEnd: p.boolean().default(false),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type CoachProfile = InferEntity<typeof CoachProfile>;
