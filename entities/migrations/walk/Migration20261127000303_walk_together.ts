import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000303_walk_together extends Migration {
  override up(): void {
    // Walking together (seed 003 "함께 산책 위치 공유"): a session of two to ten walkers who agreed to
    // walk together. `source` says how it began: created directly with invitees, or (Walk II) from an
    // accepted invitation or a meetup. Positions are not stored here: the last one of each walker
    // lives in Redis (or the node's memory) for the session's life only.
    this.addSql(`create table walk_sessions (
      id uuid primary key,
      created_by uuid not null references users(id) on delete cascade,
      source text not null default 'direct' check (source in ('direct', 'invitation', 'meetup')),
      status text not null default 'open' check (status in ('open', 'closed')),
      created_at timestamptz not null default now(),
      closed_at timestamptz,
      close_reason text check (close_reason in ('ended', 'everyone_left', 'walk_ended', 'abandoned')),
      check ((status = 'open') = (closed_at is null))
    )`);
    this.addSql(`create index walk_sessions_open_index on walk_sessions (created_at) where status = 'open'`);
    // joined_at: first joined (null: invited, not there yet); left_at: left and not back; stale_at:
    // no position for the stale window (set by whichever node's sweep noticed, cleared when they are
    // back), what closes a session whose walkers all went quiet long ago.
    this.addSql(`create table walk_session_participants (
      session_id uuid not null references walk_sessions(id) on delete cascade,
      user_id uuid not null references users(id) on delete cascade,
      invited_at timestamptz not null default now(),
      joined_at timestamptz,
      left_at timestamptz,
      stale_at timestamptz,
      primary key (session_id, user_id)
    )`);
    this.addSql(`create index walk_session_participants_user_index on walk_session_participants (user_id) where left_at is null`);
  }
}
