import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000307_walk_invitations extends Migration {
  override up(): void {
    // Walk invitations (Walk II, seed 003 산책 초대): a walker invites some of their followers to walk
    // at a time and place; each invitee accepts or declines until the start. When the walk starts
    // (the every-minute walk-invitations-start cron, or the inviter from 30 minutes before) one
    // walk-together session opens for the inviter and those who accepted.
    //
    // status: open (answers still possible until starts_at), started (its session is session_id),
    // cancelled (by the inviter), expired (its time came with nobody accepted, or it was never
    // started in the start window). The open → started move is a guarded update (… where status =
    // 'open'), which is what keeps two cron nodes from opening two sessions.
    this.addSql(`create table walk_invitations (
      id uuid primary key,
      inviter_id uuid not null references users(id) on delete cascade,
      starts_at timestamptz not null,
      place_name text not null,
      lat double precision not null check (lat between -90 and 90),
      lng double precision not null check (lng between -180 and 180),
      message text,
      status text not null default 'open' check (status in ('open', 'started', 'cancelled', 'expired')),
      session_id uuid references walk_sessions(id) on delete set null,
      started_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check ((status = 'started') = (started_at is not null))
    )`);
    // The cron's scan: open invitations whose time has come.
    this.addSql(`create index walk_invitations_open_starts_index on walk_invitations (starts_at) where status = 'open'`);
    // The sent box, newest first.
    this.addSql(`create index walk_invitations_inviter_index on walk_invitations (inviter_id, created_at desc, id desc)`);
    // answer: pending until the invitee accepts or declines; expired once the walk started (or its
    // time came) without an answer. Accepting and declining are guarded updates (… where answer =
    // 'pending'): the first answer stands.
    this.addSql(`create table walk_invitation_invitees (
      invitation_id uuid not null references walk_invitations(id) on delete cascade,
      user_id uuid not null references users(id) on delete cascade,
      answer text not null default 'pending' check (answer in ('pending', 'accepted', 'declined', 'expired')),
      answered_at timestamptz,
      created_at timestamptz not null default now(),
      primary key (invitation_id, user_id),
      check ((answer = 'pending') = (answered_at is null))
    )`);
    // The received box, newest first (created_at is the invitation's, copied).
    this.addSql(`create index walk_invitation_invitees_user_index on walk_invitation_invitees (user_id, created_at desc, invitation_id desc)`);
  }
}
