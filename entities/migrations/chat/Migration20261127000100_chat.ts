import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000100_chat extends Migration {
  override up(): void {
    // World settings a character can take its world from: a creator's own, or anyone's public one.
    this.addSql(`create table chat_world_settings (
      id uuid primary key,
      creator_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      name text not null,
      description text,
      rules text,
      is_public boolean not null default false,
      usage_count integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    // A character as the seed defines it; the lorebook is its custom module's (kept with it: one
    // read for the prompt). Soft-deleted (deleted_at) so rooms and messages keep their character.
    this.addSql(`create table chat_characters (
      id uuid primary key,
      creator_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      name text not null,
      description text,
      personality text,
      background_story text,
      avatar_url text,
      speech_style text,
      greeting text,
      world_setting text,
      world_setting_id uuid references chat_world_settings(id) on delete set null deferrable initially deferred,
      user_display_description text,
      use_custom_description boolean not null default false,
      introduction_scenes jsonb not null default '[]',
      character_type text,
      base_language text not null default 'ko',
      image_descriptions jsonb not null default '[]',
      voice_settings jsonb,
      has_affinity_system boolean not null default false,
      affinity_rules jsonb not null default '[]',
      affinity_stages jsonb not null default '[]',
      use_translation boolean not null default false,
      tags text[] not null default '{}',
      lorebook jsonb,
      card_extensions jsonb not null default '{}',
      settings jsonb not null default '{}',
      is_public boolean not null default true,
      is_active boolean not null default true,
      chat_count integer not null default 0,
      like_count integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    )`);
    this.addSql(`create index chat_characters_creator_index on chat_characters (creator_id, created_at desc) where deleted_at is null`);
    this.addSql(`create index chat_characters_public_index on chat_characters (created_at desc, id desc) where deleted_at is null and is_public and is_active`);
    this.addSql(`create index chat_characters_popular_index on chat_characters (chat_count desc, like_count desc) where deleted_at is null and is_public and is_active`);
    this.addSql(`create index chat_characters_tags_index on chat_characters using gin (tags)`);
    this.addSql(`create table chat_example_dialogues (
      id uuid primary key,
      character_id uuid not null references chat_characters(id) on delete cascade deferrable initially deferred,
      user_message text not null,
      character_response text not null,
      order_index integer not null,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index chat_example_dialogues_character_index on chat_example_dialogues (character_id, order_index)`);
    this.addSql(`create table chat_character_images (
      id uuid primary key,
      character_id uuid not null references chat_characters(id) on delete cascade deferrable initially deferred,
      storage_key text not null,
      content_type text not null,
      width integer not null,
      height integer not null,
      bytes integer not null,
      order_index integer not null,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index chat_character_images_character_index on chat_character_images (character_id, order_index)`);
    // A user's conversation with a character: its affinity score, its lorebook state (cooldowns,
    // entries switched on), and the rolling summary of the messages older than the memory window.
    this.addSql(`create table chat_rooms (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      character_id uuid not null references chat_characters(id) deferrable initially deferred,
      title text not null,
      message_count integer not null default 0,
      affinity integer not null default 0,
      lorebook_state jsonb not null default '{}',
      summary text not null default '',
      summary_through bigint not null default 0,
      last_message_at timestamptz,
      created_at timestamptz not null default now(),
      deleted_at timestamptz
    )`);
    this.addSql(`create index chat_rooms_user_index on chat_rooms (user_id, last_message_at desc nulls last) where deleted_at is null`);
    // Messages in order (seq, per room). A user message is stored once per clientMessageId; a
    // character reply is a resumable stream (status streaming until done, failed or cancelled). A
    // regenerated or edited turn supersedes the old messages, which stay for the record.
    this.addSql(`create table chat_messages (
      id uuid primary key,
      room_id uuid not null references chat_rooms(id) on delete cascade deferrable initially deferred,
      seq bigint not null,
      sender_type text not null check (sender_type in ('user', 'character')),
      content text not null default '',
      status text not null default 'done' check (status in ('streaming', 'done', 'failed', 'cancelled')),
      client_message_id text,
      reply_to uuid references chat_messages(id) deferrable initially deferred,
      context jsonb,
      usage jsonb,
      model text,
      provider text,
      points_charged integer not null default 0,
      reservation_id uuid,
      error_code text,
      affinity_delta integer not null default 0,
      superseded_at timestamptz,
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      constraint chat_messages_seq_unique unique (room_id, seq)
    )`);
    this.addSql(`create unique index chat_messages_client_id_unique on chat_messages (room_id, client_message_id) where client_message_id is not null`);
    this.addSql(`create index chat_messages_streaming_index on chat_messages (created_at) where status = 'streaming'`);
  }
}
