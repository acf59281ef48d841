import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// The one definition of the coach's plan tiers, lowest first: routes, config, subscriptions and
// seed data all derive from it (the limits of each tier are reference data in coach_plans).
export const PLAN_TIERS = ['free', 'basic', 'basic_special'] as const;
export type PlanTier = (typeof PLAN_TIERS)[number];
// The tiers a subscription can buy.
export const PAID_TIERS = ['basic', 'basic_special'] as const;
export type PaidTier = (typeof PAID_TIERS)[number];
export const tierRank = (tier: PlanTier): number => PLAN_TIERS.indexOf(tier);

export const CoachPlan = defineEntity({
  name: 'CoachPlan',
  tableName: 'coach_plans',
  properties: {
    tier: p.enum([...PLAN_TIERS]).primary(),
    name: p.string(),
    model: p.string(),
    maxPromptTokens: p.integer(),
    maxAnswerTokens: p.integer(),
    callLimit: p.integer(),
    callPeriod: p.enum(['week', 'month']),
    sortOrder: p.integer().default(0),
  },
});
export type CoachPlan = InferEntity<typeof CoachPlan>;
