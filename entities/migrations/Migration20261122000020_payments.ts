import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000020_payments extends Migration {
  override up(): void {
    this.addSql(`create table payment_products (
      id text primary key,
      module text not null,
      name text not null,
      description text,
      amount integer not null check (amount > 0),
      grants jsonb not null default '{}',
      active boolean not null default true,
      sort_order integer not null default 0
    )`);
    this.addSql(`create table payments (
      id uuid primary key,
      order_id text not null unique,
      user_id uuid not null references users(id) deferrable initially deferred,
      module text not null,
      product_id text not null references payment_products(id) deferrable initially deferred,
      order_name text not null,
      provider text not null check (provider in ('toss', 'portone', 'sandbox')),
      amount integer not null check (amount > 0),
      currency text not null default 'KRW',
      status text not null default 'pending' check (status in ('pending', 'paid', 'failed', 'cancelled', 'refunded')),
      provider_payment_key text,
      provider_response jsonb,
      failure_reason text,
      refunded_amount integer not null default 0 check (refunded_amount >= 0 and refunded_amount <= amount),
      metadata jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      paid_at timestamptz,
      cancelled_at timestamptz,
      refunded_at timestamptz
    )`);
    this.addSql(`create unique index payments_provider_key_unique on payments (provider, provider_payment_key) where provider_payment_key is not null`);
    this.addSql(`create index payments_user_id_created_at_index on payments (user_id, created_at desc)`);
    this.addSql(`create index payments_pending_created_at_index on payments (created_at) where status = 'pending'`);
    this.addSql(`create table payment_failures (
      id bigserial primary key,
      payment_id uuid references payments(id) deferrable initially deferred,
      order_id text not null,
      provider text not null,
      reason text not null,
      detail text,
      raw jsonb,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index payment_failures_order_id_index on payment_failures (order_id)`);
    this.addSql(`create table webhook_events (
      id bigserial primary key,
      provider text not null,
      event_id text not null,
      event_type text not null,
      payload jsonb not null,
      received_at timestamptz not null default now(),
      processed_at timestamptz,
      outcome text,
      constraint webhook_events_provider_event_id_unique unique (provider, event_id)
    )`);
    this.addSql(`create table idempotency_keys (
      user_id uuid not null,
      key text not null,
      scope text not null,
      request_hash text not null,
      state text not null check (state in ('in_progress', 'completed')),
      response_status integer,
      response_body jsonb,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      primary key (user_id, key)
    )`);
    this.addSql(`create index idempotency_keys_expires_at_index on idempotency_keys (expires_at)`);
    this.addSql(`create table subscriptions (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      module text not null,
      provider text not null,
      product_id text not null,
      entitlements jsonb not null default '[]',
      status text not null check (status in ('active', 'cancelled', 'expired')),
      current_period_end timestamptz,
      last_event_id text,
      last_event_at timestamptz,
      environment text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint subscriptions_user_provider_product_unique unique (user_id, provider, product_id)
    )`);
    this.addSql(`create table sandbox_transactions (
      payment_key text primary key,
      order_id text not null unique,
      amount integer not null,
      status text not null check (status in ('approved', 'declined', 'cancelled')),
      cancelled_amount integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
  }

  override down(): void {
    for (const t of ['sandbox_transactions', 'subscriptions', 'idempotency_keys', 'webhook_events', 'payment_failures', 'payments', 'payment_products']) {
      this.addSql(`drop table if exists ${t}`);
    }
  }
}
