// The quota's queries, kept readable in one place. Neither table has a MikroORM entity: both are
// written only by these statements.
//   coach_usage           calls per (user_id, period_start), period_start being the plan period's first instant
//   coach_quota_refusals  one row per refused ask, for the admin statistics (stats.sql.ts)
// Instants are parameters taken from the injected clock, never the database's now().

// Parameters: user id, period start.
export const QUOTA_USED = 'select calls from coach_usage where user_id = ? and period_start = ?';

// The count and the check in one statement. Parameters: user id, period start, the plan's call limit.
// Returns the new count, or no row when the limit was already reached.
export const QUOTA_CONSUME = `
insert into coach_usage (user_id, period_start, calls) values (?, ?, 1)
on conflict (user_id, period_start) do update set calls = coach_usage.calls + 1
 where coach_usage.calls < ?
returning calls`;

// Parameters: user id, plan tier, refused at.
export const QUOTA_RECORD_REFUSAL = 'insert into coach_quota_refusals (user_id, plan_tier, refused_at) values (?, ?, ?)';

// Gives one call back, never below zero. Parameters: user id, period start.
export const QUOTA_RELEASE = 'update coach_usage set calls = calls - 1 where user_id = ? and period_start = ? and calls > 0';
