import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000001_coach_checkout_settlement extends Migration {
  override up(): void {
    // The OFFLINE sandbox settles a checkout once: Approve or Decline moves it from 'created' to
    // 'approved' or 'declined' by a guarded update, and any later decision is refused. A checkout on
    // RevenueCat stays 'created': its purchase arrives as a webhook that does not name the checkout.
    this.addSql('alter table billing_checkout_attempts drop constraint billing_checkout_attempts_status_check');
    this.addSql(`alter table billing_checkout_attempts add constraint billing_checkout_attempts_status_check
      check (status in ('pending', 'created', 'retrying', 'failed', 'approved', 'declined'))`);
    this.addSql('alter table billing_checkout_attempts add column decided_at timestamptz');
  }

  override down(): void {
    this.addSql(`update billing_checkout_attempts set status = 'created' where status in ('approved', 'declined')`);
    this.addSql('alter table billing_checkout_attempts drop column decided_at');
    this.addSql('alter table billing_checkout_attempts drop constraint billing_checkout_attempts_status_check');
    this.addSql(`alter table billing_checkout_attempts add constraint billing_checkout_attempts_status_check
      check (status in ('pending', 'created', 'retrying', 'failed'))`);
  }
}
