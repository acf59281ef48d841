import { Migration } from '@mikro-orm/migrations';

// The platform's one subscription state also holds what the providers other than RevenueCat need:
// the store's own id of the subscription (App Store originalTransactionId, Google Play purchaseToken),
// and for merchant-charged recurring billing (Toss 자동결제, provider 'toss_billing') the sealed
// billing key, the price, the anchor its periods count from, the next charge and the retry state.
export class Migration20261128000046_subscription_billing extends Migration {
  override up(): void {
    this.addSql(`alter table subscriptions
      add column external_id text,
      add column customer_key text,
      add column billing_key_sealed text,
      add column amount integer check (amount > 0),
      add column billing_anchor_at timestamptz,
      add column periods_paid integer not null default 0 check (periods_paid >= 0),
      add column next_charge_at timestamptz,
      add column retry_count integer not null default 0 check (retry_count >= 0),
      add column grace_until timestamptz,
      add column last_charge_error text`);
    // The renewal run's scan: recurring subscriptions due for a charge, oldest due first.
    this.addSql(`create index subscriptions_next_charge_index on subscriptions (next_charge_at) where next_charge_at is not null`);
    this.addSql(`create index subscriptions_user_module_index on subscriptions (user_id, module)`);
  }

  override down(): void {
    this.addSql('drop index if exists subscriptions_user_module_index');
    this.addSql('drop index if exists subscriptions_next_charge_index');
    this.addSql(`alter table subscriptions drop column if exists external_id, drop column if exists customer_key, drop column if exists billing_key_sealed,
      drop column if exists amount, drop column if exists billing_anchor_at, drop column if exists periods_paid, drop column if exists next_charge_at,
      drop column if exists retry_count, drop column if exists grace_until, drop column if exists last_charge_error`);
  }
}
