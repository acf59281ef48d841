import { Migration } from '@mikro-orm/migrations';

// A session remembers the app module its sign-in named, so that every refresh of it issues tokens
// with that module's lifetimes. Existing sessions named none: null, the platform's defaults.
export class Migration20261128000044_session_app extends Migration {
  override up(): void {
    this.addSql('alter table refresh_token_families add column app text');
  }

  override down(): void {
    this.addSql('alter table refresh_token_families drop column if exists app');
  }
}
