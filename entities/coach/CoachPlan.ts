import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const PLAN_TIERS = ['free', 'basic', 'basic_special'] as const;
export type PlanTier = (typeof PLAN_TIERS)[number];

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
