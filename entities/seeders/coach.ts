// The coach's reference data: the plans of seed 001 (model, prompt and answer token limits, call
// limits), one row per tier of PLAN_TIERS.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { PlanTier } from '../coach/CoachPlan.ts';

export const coachPlans: { tier: PlanTier; name: string; model: string; maxPromptTokens: number; maxAnswerTokens: number; callLimit: number; callPeriod: 'week' | 'month'; sortOrder: number }[] = [
  { tier: 'free', name: '무료', model: 'gpt-4o-mini', maxPromptTokens: 1000, maxAnswerTokens: 2000, callLimit: 30, callPeriod: 'week', sortOrder: 0 },
  { tier: 'basic', name: '베이직', model: 'gpt-4o-mini', maxPromptTokens: 2000, maxAnswerTokens: 4000, callLimit: 200, callPeriod: 'week', sortOrder: 1 },
  { tier: 'basic_special', name: '베이직(특화)', model: 'o4-mini', maxPromptTokens: 2000, maxAnswerTokens: 4000, callLimit: 100, callPeriod: 'month', sortOrder: 2 },
];

export async function seedCoachPlans(em: EntityManager): Promise<void> {
  for (const p of coachPlans) {
    await em.execute(
      `insert into coach_plans (tier, name, model, max_prompt_tokens, max_answer_tokens, call_limit, call_period, sort_order) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (tier) do update set name = excluded.name, model = excluded.model, max_prompt_tokens = excluded.max_prompt_tokens,
         max_answer_tokens = excluded.max_answer_tokens, call_limit = excluded.call_limit, call_period = excluded.call_period, sort_order = excluded.sort_order`,
      [p.tier, p.name, p.model, p.maxPromptTokens, p.maxAnswerTokens, p.callLimit, p.callPeriod, p.sortOrder],
    );
  }
}
