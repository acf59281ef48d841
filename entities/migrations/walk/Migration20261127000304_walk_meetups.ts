import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000304_walk_meetups extends Migration {
  override up(): void {
    // "Near me" without PostGIS (docs: geo): cube + earthdistance ship with every Postgres build and
    // are trusted extensions, so the database owner can create them. Postgres 17+ builds index and
    // ANALYZE expressions with search_path = pg_catalog, which earthdistance 1.1's ll_to_earth (its
    // body names cube() and earth() unqualified) cannot run under; 1.2 qualifies them. Updating to
    // the build's default version moves an older database to 1.2 where the build has it, and is a
    // no-op on Postgres 15/16 (1.1 is their default and works there).
    this.addSql(`create extension if not exists cube`);
    this.addSql(`create extension if not exists earthdistance`);
    this.addSql(`alter extension earthdistance update`);
    // The meetups board (seed 003 `meetups`, 산책 모임 게시판). member_count is kept in the row, not
    // counted, because the guarded `member_count < capacity` update is what keeps capacity under
    // concurrent joins (services/walk/meetups.ts). status 'done' is for an archive job; the API
    // shows a past open meetup as done without it.
    this.addSql(`create table walk_meetups (
      id uuid primary key,
      host_id uuid not null references users(id) on delete cascade,
      title text not null,
      description text not null default '',
      place_name text not null,
      lat double precision not null check (lat between -90 and 90),
      lng double precision not null check (lng between -180 and 180),
      starts_at timestamptz not null,
      ends_at timestamptz,
      capacity int not null check (capacity between 2 and 50),
      member_count int not null default 0,
      status text not null default 'open' check (status in ('open', 'cancelled', 'done')),
      session_id uuid references walk_sessions(id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check (member_count between 0 and capacity),
      check (ends_at is null or ends_at > starts_at)
    )`);
    // Nearby search: earth_box(...) @> ll_to_earth(lat, lng) is answered by this GiST index (then the
    // exact earth_distance filters the box's corners). Only open meetups are ever searched, so the
    // index holds only those; a cancelled meetup leaves it.
    this.addSql(`create index walk_meetups_open_earth_index on walk_meetups using gist (ll_to_earth(lat, lng)) where status = 'open'`);
    this.addSql(`create index walk_meetups_host_index on walk_meetups (host_id, starts_at desc, id desc)`);
    this.addSql(`create table walk_meetup_members (
      meetup_id uuid not null references walk_meetups(id) on delete cascade,
      user_id uuid not null references users(id) on delete cascade,
      joined_at timestamptz not null default now(),
      primary key (meetup_id, user_id)
    )`);
    this.addSql(`create index walk_meetup_members_user_index on walk_meetup_members (user_id)`);
  }
}
