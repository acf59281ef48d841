// The coach subscription queries, kept readable in one place. Tables without a MikroORM entity,
// written only by these statements:
//   billing_checkout_attempts  one row per checkout the user started, with its retry schedule
//   coach_cancellations        what RevenueCat answered to each cancellation at period end
// coach_profiles (CoachProfile) and subscriptions (Subscription) have entities.
// Decisions take their instant from the injected clock as a parameter; now() only stamps updated_at.

// An expiration takes the tier away only from the subscription that gave it. Parameters: user id, tier.
export const PROFILE_EXPIRE = `
update coach_profiles set plan_tier = 'free', plan_expires_at = null, cancel_at_period_end = false, updated_at = now()
 where user_id = ? and plan_tier = ?`;

// Purchase, renewal, cancellation: the tier and the period end RevenueCat reports (kept when it
// reports none). Parameters: user id, tier, period end, cancel at period end.
export const PROFILE_APPLY = `
insert into coach_profiles (user_id, plan_tier, plan_expires_at, cancel_at_period_end, updated_at) values (?, ?, ?, ?, now())
on conflict (user_id) do update set plan_tier = excluded.plan_tier,
  plan_expires_at = coalesce(excluded.plan_expires_at, coach_profiles.plan_expires_at),
  cancel_at_period_end = excluded.cancel_at_period_end, updated_at = now()`;

// Parameters: user id.
export const PROFILE_STATE = 'select plan_tier, plan_expires_at, cancel_at_period_end from coach_profiles where user_id = ?';

// Parameters: user id.
export const PROFILE_CANCEL_AT_PERIOD_END = 'update coach_profiles set cancel_at_period_end = true, updated_at = now() where user_id = ?';

// Parameters: id, user id, module, tier.
export const CHECKOUT_INSERT = `insert into billing_checkout_attempts (id, user_id, module, tier, status) values (?, ?, ?, ?, 'pending')`;

// Parameters: checkout url, offline, id.
export const CHECKOUT_CREATED = `
update billing_checkout_attempts set status = 'created', attempts = attempts + 1, checkout_url = ?, offline = ?, next_attempt_at = null, updated_at = now()
 where id = ?`;

// Parameters: status ('retrying' or 'failed'), next attempt at (null when giving up), error code, id.
export const CHECKOUT_ATTEMPT_FAILED = `
update billing_checkout_attempts set status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = now()
 where id = ?`;

// Retries due at an instant, oldest first. Parameters: now (from the clock), limit.
export const CHECKOUTS_DUE = `
select id, user_id, tier, attempts from billing_checkout_attempts
 where status = 'retrying' and next_attempt_at <= ?
 order by next_attempt_at
 limit ?`;

// Parameters: id.
export const CHECKOUT_BY_ID = 'select id, user_id, tier, status from billing_checkout_attempts where id = ?';

// The OFFLINE sandbox's Approve or Decline: settles an open sandbox checkout once. A second decision,
// or one racing the first, updates nothing. Parameters: status ('approved' or 'declined'), id.
export const CHECKOUT_SETTLE = `
update billing_checkout_attempts set status = ?, decided_at = now(), updated_at = now()
 where id = ? and status = 'created' and offline
 returning id, user_id, tier`;

// An approval whose webhook was not accepted opens the checkout again. Parameters: id.
export const CHECKOUT_REOPEN = `
update billing_checkout_attempts set status = 'created', decided_at = null, updated_at = now()
 where id = ? and status = 'approved'`;

// The subscription a cancellation is about: the user's active RevenueCat one in this module that
// runs longest. Parameters: user id, module.
export const ACTIVE_SUBSCRIPTION = `
select product_id, current_period_end from subscriptions
 where user_id = ? and module = ? and provider = 'revenuecat' and status = 'active'
 order by current_period_end desc nulls last
 limit 1`;

// Parameters: user id, product id, outcome, period end.
export const CANCELLATION_INSERT = 'insert into coach_cancellations (user_id, product_id, outcome, period_end) values (?, ?, ?, ?)';
