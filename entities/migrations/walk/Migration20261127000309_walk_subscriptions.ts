import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000309_walk_subscriptions extends Migration {
  override up(): void {
    // Every Toss charge of a walk subscription, first or renewal, under an orderId made from what it
    // pays for (the subscribe's authKey; the subscription, period and attempt): inserting the row is
    // the claim, so two nodes never charge the same thing twice, and Toss refuses a second payment of
    // one orderId. The first charge carries the billing key (sealed) it was issued until the
    // subscription row holds it, so a subscribe cut short is finished with the same key.
    this.addSql(`create table walk_subscription_charges (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users(id) on delete cascade,
      subscription_id uuid references subscriptions(id) on delete cascade,
      order_id text not null unique,
      kind text not null check (kind in ('first', 'renewal')),
      period integer not null check (period >= 1),
      attempt integer not null default 0 check (attempt >= 0),
      amount integer not null check (amount > 0),
      customer_key text not null,
      billing_key_sealed text,
      status text not null default 'pending' check (status in ('pending', 'paid', 'failed')),
      payment_key text,
      failure_code text,
      claimed_at timestamptz not null default now(),
      created_at timestamptz not null default now(),
      settled_at timestamptz
    )`);
    this.addSql(`create index walk_subscription_charges_user_index on walk_subscription_charges (user_id, created_at desc)`);
    this.addSql(`create index walk_subscription_charges_subscription_index on walk_subscription_charges (subscription_id, period, attempt)`);
  }

  override down(): void {
    this.addSql('drop table if exists walk_subscription_charges');
  }
}
