// Coach call quotas: calls counted per user per plan period on the KST calendar (seed 001: free
// 30/week, basic 200/week, basic_special 100/month).
//
// The count and the check are one guarded upsert, so parallel asks from one user cannot pass the
// limit however they interleave: Postgres serialises them on the (user_id, period_start) row, and
// the `where calls < limit` of the conflict branch makes the over-limit ones return no row.
import { Counter, type Registry } from 'prom-client';
import { AppError } from '../errors.ts';
import { zoneCalendar, type Clock, type TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { Plan } from './plans.ts';
import { QUOTA_CONSUME, QUOTA_RECORD_REFUSAL, QUOTA_RELEASE, QUOTA_USED } from './quota.sql.ts';

export type QuotaPeriodKind = Plan['callPeriod'];
export type QuotaPlan = Pick<Plan, 'tier' | 'callLimit' | 'callPeriod'>;
export type QuotaStatus = { used: number; remaining: number; resetAt: Date };
// periodStart names the counter a call was taken from, so that a release after a period boundary
// gives the call back to the period that was charged, not to the new one.
export type QuotaGrant = { remaining: number; resetAt: Date; periodStart: Date };

// Seed 001 defines the periods on the KST calendar (a week from Monday 00:00 KST, a month from the
// 1st 00:00 KST), whatever TIME_ZONE the server renders its timestamps in.
export const QUOTA_ZONE = 'Asia/Seoul';

export function createQuotaService(deps: { em: Em; registry: Registry; time: TimeFormatter; clock: Clock; zone?: string }) {
  // A period's `end` is its reset time.
  const calendar = zoneCalendar(deps.zone ?? QUOTA_ZONE);
  // One counter per registry: a second service on the same node's registry shares it.
  const refusals =
    (deps.registry.getSingleMetric('quota_exceeded_total') as Counter<'plan'> | undefined) ??
    new Counter({ name: 'quota_exceeded_total', help: 'Coach asks refused because the plan\'s call limit was reached', labelNames: ['plan'] as const, registers: [deps.registry] });

  async function status(userId: string, plan: QuotaPlan): Promise<QuotaStatus> {
    const period = calendar.period(plan.callPeriod, deps.clock.now());
    const [row] = await deps.em.execute<{ calls: number }[]>(QUOTA_USED, [userId, period.start]);
    const used = row ? Number(row.calls) : 0;
    return { used, remaining: Math.max(0, plan.callLimit - used), resetAt: period.end };
  }

  async function consume(userId: string, plan: QuotaPlan): Promise<QuotaGrant> {
    const at = deps.clock.now();
    const period = calendar.period(plan.callPeriod, at);
    const rows = await deps.em.execute<{ calls: number }[]>(QUOTA_CONSUME, [userId, period.start, plan.callLimit]);
    if (rows.length > 0) return { remaining: Math.max(0, plan.callLimit - Number(rows[0].calls)), resetAt: period.end, periodStart: period.start };

    refusals.inc({ plan: plan.tier });
    await deps.em.execute(QUOTA_RECORD_REFUSAL, [userId, plan.tier, at]);
    const resetAt = deps.time.format(period.end);
    throw new AppError(429, 'quota_exceeded', `The ${plan.tier} plan allows ${plan.callLimit} questions per ${plan.callPeriod}; the limit resets at ${resetAt}`, {
      extra: {
        resetAt,
        limit: plan.callLimit,
        period: plan.callPeriod,
        // Lets the HTTP layer send Retry-After.
        retryAfter: Math.max(1, Math.ceil((period.end.getTime() - at.getTime()) / 1000)),
      },
    });
  }

  // Gives a call back (an answer that produced nothing, or that the server failed to deliver), to
  // the period it was charged to: named by the grant, or by when it was charged. Never goes below
  // zero, so a release without a matching consume cannot hand out extra calls.
  async function release(userId: string, plan: QuotaPlan, charged?: Pick<QuotaGrant, 'periodStart'> | { chargedAt: Date }): Promise<void> {
    const periodStart = charged && 'periodStart' in charged ? charged.periodStart : calendar.period(plan.callPeriod, charged?.chargedAt ?? deps.clock.now()).start;
    await deps.em.execute(QUOTA_RELEASE, [userId, periodStart]);
  }

  return { status, consume, release };
}

export type QuotaService = ReturnType<typeof createQuotaService>;
