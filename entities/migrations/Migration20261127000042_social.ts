import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000042_social extends Migration {
  override up(): void {
    // Likes (and other reactions) and comments on anything a module registers as a target type
    // (a chat character, a story, a walk): services/social/. A target is (type, id); ids are text so
    // any module's key fits.
    this.addSql(`create table social_reactions (
      target_type text not null,
      target_id text not null,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      kind text not null default 'like',
      created_at timestamptz not null default now(),
      primary key (target_type, target_id, kind, user_id)
    )`);
    this.addSql(`create index social_reactions_user_index on social_reactions (user_id, target_type, created_at desc)`);
    // Exact counts, moved in the same transaction as the row that changes them (only when it did).
    this.addSql(`create table social_counters (
      target_type text not null,
      target_id text not null,
      likes bigint not null default 0 check (likes >= 0),
      comments bigint not null default 0 check (comments >= 0),
      primary key (target_type, target_id)
    )`);
    // Comments, threaded one level (parent_id); a deleted one keeps its row (and its replies) with its
    // body cleared.
    this.addSql(`create table social_comments (
      id uuid primary key,
      target_type text not null,
      target_id text not null,
      author_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      parent_id uuid references social_comments(id) deferrable initially deferred,
      body text not null,
      created_at timestamptz not null default now(),
      edited_at timestamptz,
      deleted_at timestamptz
    )`);
    this.addSql(`create index social_comments_target_index on social_comments (target_type, target_id, created_at desc, id desc)`);
  }
}
