import { Migration } from '@mikro-orm/migrations';

// Emails leave the tables in plain text: users keep a keyed hash (unique, the lookup and the
// case-insensitive uniqueness) and AES-256-GCM ciphertext; identities keep the ciphertext only.
// SQL cannot seal with the app's key, so where rows already hold addresses the plain column stays
// until the first start seals them and drops it (services/identity/emails.ts sealLegacyEmails);
// where none do, it is dropped here.
export class Migration20261122000032_email_encryption extends Migration {
  override up(): void {
    this.addSql(`alter table users add column email_hash text, add column email_encrypted text`);
    this.addSql(`alter table users add constraint users_email_hash_unique unique (email_hash)`);
    this.addSql(`alter table users add constraint users_email_sealed_check check ((email_hash is null) = (email_encrypted is null))`);
    this.addSql(`alter table identities add column email_encrypted text`);
    this.addSql(`do $$
      begin
        if not exists (select 1 from users where email is not null) then alter table users drop column email; end if;
        if not exists (select 1 from identities where email is not null) then alter table identities drop column email; end if;
      end $$`);
  }

  // The addresses cannot be unsealed in SQL: going down restores the columns empty.
  override down(): void {
    this.addSql(`alter table identities add column if not exists email text`);
    this.addSql(`alter table identities drop column if exists email_encrypted`);
    this.addSql(`alter table users add column if not exists email text unique`);
    this.addSql(`alter table users drop constraint if exists users_email_sealed_check`);
    this.addSql(`alter table users drop column if exists email_hash, drop column if exists email_encrypted`);
  }
}
