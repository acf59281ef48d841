import { Migration } from '@mikro-orm/migrations';

// Foreign keys are checked at commit (deferrable initially deferred): entities hold plain id
// columns rather than ORM relations, so the unit of work cannot order inserts by dependency.

export class Migration20261122000001_identity extends Migration {
  override up(): void {
    this.addSql(`create table users (
      id uuid primary key,
      email text unique,
      username text not null unique,
      display_name text,
      password_hash text,
      role text not null default 'user' check (role in ('user', 'admin')),
      disabled_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    this.addSql(`create table identities (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      provider text not null,
      subject text not null,
      email text,
      created_at timestamptz not null default now(),
      constraint identities_provider_subject_unique unique (provider, subject)
    )`);
    this.addSql(`create index identities_user_id_index on identities (user_id)`);
    this.addSql(`create table refresh_token_families (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      user_agent text,
      created_at timestamptz not null default now(),
      last_used_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz,
      revoked_reason text
    )`);
    this.addSql(`create index refresh_token_families_user_id_index on refresh_token_families (user_id)`);
    this.addSql(`create table refresh_tokens (
      id uuid primary key,
      family_id uuid not null references refresh_token_families(id) on delete cascade deferrable initially deferred,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      token_hash text not null unique,
      expires_at timestamptz not null,
      spent_at timestamptz,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index refresh_tokens_family_id_index on refresh_tokens (family_id)`);
    this.addSql(`create index refresh_tokens_expires_at_index on refresh_tokens (expires_at)`);
  }

  override down(): void {
    this.addSql('drop table if exists refresh_tokens');
    this.addSql('drop table if exists refresh_token_families');
    this.addSql('drop table if exists identities');
    this.addSql('drop table if exists users');
  }
}
