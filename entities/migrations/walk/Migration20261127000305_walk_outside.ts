import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000305_walk_outside extends Migration {
  override up(): void {
    // Outside data (seed 003 날씨·미세먼지·주변 동물병원). The weather and air of a region, written by the
    // hourly walk-outside-refresh cron and only read by requests: one row per (region, kind) holds the
    // last good payload and, separately, the last failure, so a provider that is down leaves the last
    // value readable with its age. `region` is the sido key of services/walk/regions.ts ('서울').
    this.addSql(`create table walk_outside_cache (
      region text not null,
      kind text not null check (kind in ('weather', 'air')),
      payload jsonb,
      fetched_at timestamptz,
      error text,
      error_at timestamptz,
      primary key (region, kind),
      check ((payload is null) = (fetched_at is null))
    )`);
    // "Near me" by earthdistance (cube + earthdistance contribs, present in every Postgres build and in
    // the embedded one); `if not exists` because another migration creates them too.
    this.addSql(`create extension if not exists cube`);
    this.addSql(`create extension if not exists earthdistance`);
    // Animal hospitals as Kakao Local last described them (id: Kakao's place id).
    this.addSql(`create table walk_vets (
      id text primary key,
      name text not null,
      address text not null default '',
      phone text not null default '',
      lat double precision not null check (lat between -90 and 90),
      lng double precision not null check (lng between -180 and 180),
      fetched_at timestamptz not null
    )`);
    this.addSql(`create index walk_vets_earth_index on walk_vets using gist (ll_to_earth(lat, lng))`);
    // The areas searched at Kakao: a cell of the 0.005° grid, the radius its search covered around the
    // cell's centre, when it last succeeded and when it last failed. A request refreshes its cell when
    // the last success is older than a day or covered less than it asks for.
    this.addSql(`create table walk_vet_areas (
      cell text primary key,
      radius_m integer not null default 0,
      fetched_at timestamptz,
      error text,
      error_at timestamptz
    )`);
  }
}
