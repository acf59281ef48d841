import { Migration } from '@mikro-orm/migrations';

// Push switches per notification type, beside the per-category ones: a module's types are what its
// app's settings screen lists (the walk app's seven: reminder, badge, follower, …). A type named
// here does not push; the category switch still applies to the rest. Absent = every type on.
export class Migration20261128000045_notification_type_switches extends Migration {
  override up(): void {
    this.addSql(`alter table notification_settings add column muted_types text[] not null default '{}'`);
    // A push skipped because its type is switched off says so (not "category off").
    this.addSql('alter table notification_deliveries drop constraint notification_deliveries_outcome_check');
    this.addSql(`alter table notification_deliveries add constraint notification_deliveries_outcome_check check (outcome in (
      'delivered', 'skipped_offline', 'sent', 'skipped_online', 'skipped_category_off', 'skipped_type_off', 'skipped_quiet_hours',
      'skipped_rate_limited', 'skipped_no_token', 'skipped_unsupported_platform', 'failed', 'token_unregistered'))`);
  }

  override down(): void {
    this.addSql('alter table notification_settings drop column if exists muted_types');
    this.addSql(`update notification_deliveries set outcome = 'skipped_category_off' where outcome = 'skipped_type_off'`);
    this.addSql('alter table notification_deliveries drop constraint notification_deliveries_outcome_check');
    this.addSql(`alter table notification_deliveries add constraint notification_deliveries_outcome_check check (outcome in (
      'delivered', 'skipped_offline', 'sent', 'skipped_online', 'skipped_category_off', 'skipped_quiet_hours',
      'skipped_rate_limited', 'skipped_no_token', 'skipped_unsupported_platform', 'failed', 'token_unregistered'))`);
  }
}
