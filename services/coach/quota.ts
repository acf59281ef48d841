// Coach call quotas: calls counted per user per plan period on the KST calendar (seed 001: free
// 30/week, basic 200/week, basic_special 100/month).
//
// The count and the check are one guarded upsert, so parallel asks from one user cannot pass the
// limit however they interleave: Postgres serialises them on the (user_id, period_start) row, and
// the `where calls < limit` of the conflict branch makes the over-limit ones return no row.
import { Counter, type Registry } from 'prom-client';
import { AppError } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { Plan } from './plans.ts';

export type QuotaPeriodKind = Plan['callPeriod'];
export type QuotaPlan = Pick<Plan, 'tier' | 'callLimit' | 'callPeriod'>;
export type QuotaStatus = { used: number; remaining: number; resetAt: Date };
// periodStart names the counter a call was taken from, so that a release after a period boundary
// gives the call back to the period that was charged, not to the new one.
export type QuotaGrant = { remaining: number; resetAt: Date; periodStart: Date };

// Korea has kept +09:00 all year since 1988, so KST periods are plain arithmetic on a fixed offset,
// whatever TIME_ZONE the server renders its timestamps in.
const KST_OFFSET_MS = 9 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

// The KST calendar period holding `at`: a week runs from Monday 00:00 KST to the next Monday, a
// month from the 1st 00:00 KST to the next 1st. `end` is the reset time.
export function kstPeriod(kind: QuotaPeriodKind, at: Date): { start: Date; end: Date } {
  const local = new Date(at.getTime() + KST_OFFSET_MS);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const d = local.getUTCDate();
  if (kind === 'month') {
    return { start: new Date(Date.UTC(y, m, 1) - KST_OFFSET_MS), end: new Date(Date.UTC(y, m + 1, 1) - KST_OFFSET_MS) };
  }
  const sinceMonday = (local.getUTCDay() + 6) % 7;
  const start = Date.UTC(y, m, d - sinceMonday) - KST_OFFSET_MS;
  return { start: new Date(start), end: new Date(start + 7 * DAY_MS) };
}

export function createQuotaService(deps: { em: Em; registry: Registry; time: TimeFormatter; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  // One counter per registry: a second service on the same node's registry shares it.
  const refusals =
    (deps.registry.getSingleMetric('quota_exceeded_total') as Counter<'plan'> | undefined) ??
    new Counter({ name: 'quota_exceeded_total', help: 'Coach asks refused because the plan\'s call limit was reached', labelNames: ['plan'] as const, registers: [deps.registry] });

  async function status(userId: string, plan: QuotaPlan): Promise<QuotaStatus> {
    const period = kstPeriod(plan.callPeriod, now());
    const [row] = await deps.em.execute<{ calls: number }[]>(
      'select calls from coach_usage where user_id = ? and period_start = ?',
      [userId, period.start],
    );
    const used = row ? Number(row.calls) : 0;
    return { used, remaining: Math.max(0, plan.callLimit - used), resetAt: period.end };
  }

  async function consume(userId: string, plan: QuotaPlan): Promise<QuotaGrant> {
    const at = now();
    const period = kstPeriod(plan.callPeriod, at);
    const rows = await deps.em.execute<{ calls: number }[]>(
      `insert into coach_usage (user_id, period_start, calls) values (?, ?, 1)
       on conflict (user_id, period_start) do update set calls = coach_usage.calls + 1
       where coach_usage.calls < ?
       returning calls`,
      [userId, period.start, plan.callLimit],
    );
    if (rows.length > 0) return { remaining: Math.max(0, plan.callLimit - Number(rows[0].calls)), resetAt: period.end, periodStart: period.start };

    refusals.inc({ plan: plan.tier });
    await deps.em.execute('insert into coach_quota_refusals (user_id, plan_tier, refused_at) values (?, ?, ?)', [userId, plan.tier, at]);
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

  // For an ask that failed before anything was charged. Never goes below zero, so a release
  // without a matching consume cannot hand out extra calls.
  async function release(userId: string, plan: QuotaPlan, grant?: Pick<QuotaGrant, 'periodStart'>): Promise<void> {
    const periodStart = grant?.periodStart ?? kstPeriod(plan.callPeriod, now()).start;
    await deps.em.execute(
      'update coach_usage set calls = calls - 1 where user_id = ? and period_start = ? and calls > 0',
      [userId, periodStart],
    );
  }

  return { status, consume, release };
}

export type QuotaService = ReturnType<typeof createQuotaService>;
