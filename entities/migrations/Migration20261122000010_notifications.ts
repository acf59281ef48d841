import { Migration } from '@mikro-orm/migrations';

// Notifications, their delivery record, push tokens and preferences, the SMS attempt log, and the
// outbox the offline drivers write to.
//
// Ids are bigint identities rather than UUIDs: `?after=<id>` (sync after a reconnect) needs ids
// that increase in commit order per user. A sequence value taken while holding a per-user advisory
// lock (services/notifications/notifications.ts) does; a random or clock-based UUID made on one of
// several nodes does not.

export class Migration20261122000010_notifications extends Migration {
  override up(): void {
    this.addSql(`create table notifications (
      id bigint generated always as identity primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      type text not null,
      category text not null check (category in ('payment', 'social', 'chat', 'walk', 'marketing', 'system')),
      title text not null,
      body text not null,
      data jsonb not null default '{}',
      dedupe_key text,
      created_at timestamptz not null default now(),
      read_at timestamptz,
      -- NULLs are distinct: only notifications that carry a dedupe key are deduplicated.
      constraint notifications_user_id_dedupe_key_unique unique (user_id, dedupe_key)
    )`);
    // Newest-first pages and "after id" sync; the partial one serves the unread filter and count.
    this.addSql(`create index notifications_user_id_id_index on notifications (user_id, id desc)`);
    this.addSql(`create index notifications_unread_index on notifications (user_id, id desc) where read_at is null`);

    this.addSql(`create table notification_deliveries (
      id bigint generated always as identity primary key,
      notification_id bigint not null references notifications(id) on delete cascade deferrable initially deferred,
      channel text not null check (channel in ('socket', 'push', 'sms')),
      outcome text not null check (outcome in (
        'delivered', 'skipped_offline', 'sent', 'skipped_online', 'skipped_category_off', 'skipped_quiet_hours',
        'skipped_rate_limited', 'skipped_no_token', 'skipped_unsupported_platform', 'failed', 'token_unregistered')),
      detail text,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index notification_deliveries_notification_id_index on notification_deliveries (notification_id)`);

    this.addSql(`create table notification_settings (
      user_id uuid primary key references users(id) on delete cascade deferrable initially deferred,
      payment_enabled boolean not null default true,
      social_enabled boolean not null default true,
      chat_enabled boolean not null default true,
      walk_enabled boolean not null default true,
      marketing_enabled boolean not null default false,
      marketing_consented_at timestamptz,
      quiet_start time,
      quiet_end time,
      time_zone text not null,
      updated_at timestamptz not null default now(),
      constraint notification_settings_quiet_hours_check check ((quiet_start is null) = (quiet_end is null))
    )`);

    this.addSql(`create table push_tokens (
      id bigint generated always as identity primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      platform text not null check (platform in ('fcm', 'apns')),
      token text not null unique,
      last_seen_at timestamptz not null default now(),
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index push_tokens_user_id_index on push_tokens (user_id)`);

    this.addSql(`create table sms_logs (
      id bigint generated always as identity primary key,
      send_id uuid not null,
      user_id uuid references users(id) on delete set null deferrable initially deferred,
      phone_hash text not null,
      phone_encrypted text not null,
      purpose text not null,
      provider text not null,
      provider_message_id text,
      attempt integer not null check (attempt >= 1),
      status text not null check (status in ('sent', 'retrying', 'failed')),
      error text,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index sms_logs_phone_hash_index on sms_logs (phone_hash, id desc)`);
    this.addSql(`create index sms_logs_send_id_index on sms_logs (send_id)`);
    this.addSql(`create index sms_logs_user_id_index on sms_logs (user_id, id desc) where user_id is not null`);

    this.addSql(`create table offline_outbox (
      id bigint generated always as identity primary key,
      channel text not null check (channel in ('push', 'sms')),
      payload jsonb not null,
      created_at timestamptz not null default now()
    )`);
  }

  override down(): void {
    this.addSql('drop table if exists offline_outbox');
    this.addSql('drop table if exists sms_logs');
    this.addSql('drop table if exists push_tokens');
    this.addSql('drop table if exists notification_settings');
    this.addSql('drop table if exists notification_deliveries');
    this.addSql('drop table if exists notifications');
  }
}
