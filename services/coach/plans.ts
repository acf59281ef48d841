// The coach plans (seed 001), read from the coach_plans table, and which plan a user is on.
import { CoachPlan, type PlanTier } from '../../entities/coach/CoachPlan.ts';
import type { Clock } from '../time.ts';
import type { Em } from '../transaction.ts';
import { PLAN_OF_USER } from './plans.sql.ts';

export type Plan = {
  tier: PlanTier;
  name: string;
  model: string;
  maxPromptTokens: number;
  maxAnswerTokens: number;
  callLimit: number;
  callPeriod: 'week' | 'month';
};

export function createPlanService(deps: { em: Em; clock: Clock }) {
  // The table is reference data written at start; it is read once per process.
  let plans: Promise<Map<PlanTier, Plan>> | undefined;
  const load = () =>
    (plans ??= deps.em.fork().find(CoachPlan, {}, { orderBy: { sortOrder: 'asc' } }).then(
      (rows) => new Map(rows.map((r) => [r.tier, { tier: r.tier, name: r.name, model: r.model, maxPromptTokens: r.maxPromptTokens, maxAnswerTokens: r.maxAnswerTokens, callLimit: r.callLimit, callPeriod: r.callPeriod }])),
    ));

  async function plan(tier: PlanTier): Promise<Plan> {
    const p = (await load()).get(tier);
    if (!p) throw new Error(`coach plan ${tier} is missing from coach_plans`);
    return p;
  }

  // A paid tier whose period has ended counts as free, whether or not its expiry webhook arrived.
  async function planFor(userId: string): Promise<Plan> {
    const [row] = await deps.em.execute<{ plan_tier: PlanTier; plan_expires_at: Date | string | null }[]>(PLAN_OF_USER, [userId]);
    const expired = row?.plan_expires_at && new Date(row.plan_expires_at).getTime() <= deps.clock.now().getTime();
    return plan(!row || expired ? 'free' : row.plan_tier);
  }

  return { plan, planFor, all: async () => [...(await load()).values()] };
}

export type PlanService = ReturnType<typeof createPlanService>;
