import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000040_points extends Migration {
  override up(): void {
    // A user's points (services/billing/points.ts). The balance is what can be spent; points held for
    // a generation in progress have already left it (a `reserve` entry) and come back with `release`.
    // `debt` is what a refund took back beyond the balance: later credits pay it first.
    this.addSql(`create table point_wallets (
      user_id uuid primary key references users(id) on delete cascade deferrable initially deferred,
      balance bigint not null default 0 check (balance >= 0),
      debt bigint not null default 0 check (debt >= 0),
      total_credited bigint not null default 0,
      total_spent bigint not null default 0,
      updated_at timestamptz not null default now()
    )`);
    // Append-only: every movement, with the balance and debt after it. The amounts of a wallet's
    // entries sum to its balance. A key makes each movement happen once however often it is retried.
    this.addSql(`create table point_transactions (
      id bigserial primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      type text not null check (type in ('credit', 'bonus', 'spend', 'reserve', 'release', 'reversal', 'debt_payment', 'adjustment')),
      -- A reversal can take nothing from the balance (all of it becomes debt): its amount is then 0.
      amount bigint not null check (amount <> 0 or type = 'reversal'),
      balance_after bigint not null check (balance_after >= 0),
      debt_after bigint not null default 0 check (debt_after >= 0),
      description text,
      reference_type text,
      reference_id text,
      idempotency_key text not null,
      created_at timestamptz not null default now(),
      constraint point_transactions_idempotency_unique unique (user_id, idempotency_key)
    )`);
    this.addSql(`create index point_transactions_user_index on point_transactions (user_id, id desc)`);
    this.addSql(`create index point_transactions_reference_index on point_transactions (reference_type, reference_id)`);
    this.addSql(`create table point_reservations (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      amount bigint not null check (amount > 0),
      status text not null default 'held' check (status in ('held', 'settled', 'released')),
      charged bigint check (charged >= 0),
      reference_type text,
      reference_id text,
      expires_at timestamptz not null,
      created_at timestamptz not null default now(),
      closed_at timestamptz
    )`);
    this.addSql(`create index point_reservations_expiring_index on point_reservations (expires_at) where status = 'held'`);
  }
}
