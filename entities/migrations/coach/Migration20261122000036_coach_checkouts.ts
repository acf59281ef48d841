import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000036_coach_checkouts extends Migration {
  override up(): void {
    // One row per POST /billing/initiate. A checkout RevenueCat could not create is retried by
    // cron/retryCoachCheckouts.ts (status 'retrying', next_attempt_at) until it succeeds or runs
    // out of retries ('failed'); the user is notified when a retry succeeds.
    this.addSql(`create table billing_checkout_attempts (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      module text not null default 'coach',
      tier text not null check (tier in ('basic', 'basic_special')),
      status text not null check (status in ('pending', 'created', 'retrying', 'failed')),
      attempts integer not null default 0 check (attempts >= 0),
      next_attempt_at timestamptz,
      checkout_url text,
      offline boolean not null default false,
      last_error text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    this.addSql(`create index billing_checkout_attempts_due_index on billing_checkout_attempts (next_attempt_at) where status = 'retrying'`);
    this.addSql(`create index billing_checkout_attempts_user_index on billing_checkout_attempts (user_id, created_at desc)`);
    // POST /billing/cancel requests, with what the provider did about them; the plan itself moves
    // with RevenueCat's CANCELLATION webhook.
    this.addSql(`create table coach_cancellations (
      id bigserial primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      product_id text not null,
      outcome text not null,
      period_end timestamptz,
      created_at timestamptz not null default now()
    )`);
  }

  override down(): void {
    this.addSql('drop table if exists coach_cancellations');
    this.addSql('drop table if exists billing_checkout_attempts');
  }
}
