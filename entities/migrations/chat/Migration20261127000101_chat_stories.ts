import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000101_chat_stories extends Migration {
  override up(): void {
    // Stories starring characters: written by their creator or generated (a resumable stream, priced
    // in points, status streaming until done). Featured by operators; views counted once per user per day.
    this.addSql(`create table chat_stories (
      id uuid primary key,
      creator_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      character_ids uuid[] not null default '{}',
      title text not null,
      content text not null default '',
      summary text,
      genres text[] not null default '{}',
      prompt text,
      is_public boolean not null default true,
      is_featured boolean not null default false,
      status text not null default 'done' check (status in ('streaming', 'done', 'failed', 'cancelled')),
      reservation_id uuid,
      points_charged integer not null default 0,
      error_code text,
      view_count integer not null default 0,
      like_count integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    )`);
    this.addSql(`create index chat_stories_public_index on chat_stories (created_at desc, id desc) where deleted_at is null and is_public and status = 'done'`);
    this.addSql(`create index chat_stories_creator_index on chat_stories (creator_id, created_at desc) where deleted_at is null`);
    this.addSql(`create index chat_stories_streaming_index on chat_stories (created_at) where status = 'streaming'`);
    this.addSql(`create table chat_story_views (
      story_id uuid not null references chat_stories(id) on delete cascade deferrable initially deferred,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      day date not null,
      primary key (story_id, user_id, day)
    )`);
  }
}
