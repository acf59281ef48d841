import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000300_walk extends Migration {
  override up(): void {
    // A walker's profile in the walk app (seed 003 `users`): the platform account is the identity;
    // this is what the app adds to it. Home zones are circles ({lat, lng, radiusM}) the user wants
    // kept private: routes shown to others lose their start and end inside them, and live positions
    // inside them are blurred. The streak counts consecutive KST days with a trusted walk.
    this.addSql(`create table walk_profiles (
      user_id uuid primary key references users(id) on delete cascade,
      nickname text not null,
      region text,
      premium_until timestamptz,
      home_zones jsonb not null default '[]',
      current_streak integer not null default 0,
      longest_streak integer not null default 0,
      last_walk_date date,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`);
    this.addSql(`create index walk_profiles_region_index on walk_profiles (region)`);
    this.addSql(`create table walk_pets (
      id uuid primary key,
      owner_id uuid not null references users(id) on delete cascade,
      name text not null,
      breed text,
      birth_date date,
      weight_kg numeric(5, 2),
      photo_key text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz
    )`);
    this.addSql(`create index walk_pets_owner_index on walk_pets (owner_id) where deleted_at is null`);
    // Weight history, vaccinations and vet visits, one row each.
    this.addSql(`create table walk_pet_health (
      id uuid primary key,
      pet_id uuid not null references walk_pets(id) on delete cascade,
      kind text not null check (kind in ('weight', 'vaccination', 'vet_visit')),
      recorded_on date not null,
      weight_kg numeric(5, 2),
      title text,
      notes text,
      next_due_on date,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index walk_pet_health_pet_index on walk_pet_health (pet_id, recorded_on desc)`);
    // A walk as stored after the geo worker's analysis. client_walk_id makes POST /walks idempotent per
    // user. trusted decides whether it counts for badges, rankings and streaks; trust_reasons says why
    // not (the user sees them). local_date and local_hour are KST (badges by day, time of day, season).
    this.addSql(`create table walks (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade,
      client_walk_id text not null,
      started_at timestamptz not null,
      ended_at timestamptz not null,
      local_date date not null,
      local_hour smallint not null,
      distance_m integer not null,
      duration_s integer not null,
      moving_time_s integer not null,
      calories integer not null,
      point_count integer not null,
      route jsonb not null,
      min_lat double precision not null, max_lat double precision not null,
      min_lng double precision not null, max_lng double precision not null,
      start_lat double precision not null, start_lng double precision not null,
      region text,
      trust_score smallint not null,
      trusted boolean not null,
      trust_reasons jsonb not null default '[]',
      analysis jsonb not null,
      created_at timestamptz not null default now(),
      unique (user_id, client_walk_id)
    )`);
    this.addSql(`create index walks_user_started_index on walks (user_id, started_at desc)`);
    this.addSql(`create index walks_trusted_date_index on walks (local_date, user_id) where trusted`);
    this.addSql(`create table walk_walk_pets (
      walk_id uuid not null references walks(id) on delete cascade,
      pet_id uuid not null references walk_pets(id) on delete cascade,
      primary key (walk_id, pet_id)
    )`);
    this.addSql(`create table walk_photos (
      id uuid primary key,
      walk_id uuid not null references walks(id) on delete cascade,
      storage_key text not null,
      lat double precision,
      lng double precision,
      taken_at timestamptz,
      width integer not null,
      height integer not null,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index walk_photos_walk_index on walk_photos (walk_id)`);
  }
}
