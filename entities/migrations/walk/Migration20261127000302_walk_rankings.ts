import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000302_walk_rankings extends Migration {
  override up(): void {
    // The walk rankings as the hourly recompute last wrote them (services/walk/rankings.ts): one row
    // per (period, metric, walker) for the current KST week, month and all time, trusted walks only.
    // A row carries both scopes, the whole field (rank, position) and the walker's region
    // (region_rank, region_position), so a recompute writes half the rows a scope column would.
    // rank is shared by equal values (1, 2, 2, 4); position is the unique order (ties by user_id)
    // that pages and "around me" walk. Derived data, rewritten whole each hour in one transaction,
    // so there is no foreign key: 300k referential checks per hour would cost more than the rest of
    // the recompute, and reads join users, so a deleted account drops out at once.
    this.addSql(`create table walk_rankings (
      period_kind text not null check (period_kind in ('week', 'month', 'all')),
      metric text not null check (metric in ('distance', 'count')),
      user_id uuid not null,
      period_start date not null,
      region text,
      value bigint not null,
      rank integer not null,
      position integer not null,
      region_rank integer,
      region_position integer,
      computed_at timestamptz not null,
      primary key (period_kind, metric, user_id)
    )`);
    this.addSql(`create index walk_rankings_position_index on walk_rankings (period_kind, metric, position)`);
    this.addSql(`create index walk_rankings_region_index on walk_rankings (period_kind, metric, region, region_position) where region is not null`);
    // What the recompute aggregates, readable without the walks' wide rows (routes, analysis).
    this.addSql(`create index walks_rankings_index on walks (user_id) include (local_date, distance_m) where trusted`);
    // A closed week's or month's best, written once by the first recompute after it closed
    // (walk_hall_of_fame_periods claims the period, so two recomputes cannot both write it). Ties at
    // the cut are all kept, so a period may hold more than its top N.
    this.addSql(`create table walk_hall_of_fame_periods (
      period_kind text not null check (period_kind in ('week', 'month')),
      period_start date not null,
      closed_at timestamptz not null,
      primary key (period_kind, period_start)
    )`);
    this.addSql(`create table walk_hall_of_fame (
      period_kind text not null check (period_kind in ('week', 'month')),
      metric text not null check (metric in ('distance', 'count')),
      period_start date not null,
      user_id uuid not null references users(id) on delete cascade,
      rank integer not null,
      value bigint not null,
      primary key (period_kind, metric, period_start, user_id)
    )`);
    this.addSql(`create index walk_hall_of_fame_list_index on walk_hall_of_fame (period_kind, metric, period_start desc, rank)`);
    // Who follows whom (Walk II builds the API on it); the friends ranking is the people a walker
    // follows plus the walker.
    this.addSql(`create table walk_follows (
      follower_id uuid not null references users(id) on delete cascade,
      followee_id uuid not null references users(id) on delete cascade,
      created_at timestamptz not null default now(),
      primary key (follower_id, followee_id),
      check (follower_id <> followee_id)
    )`);
    this.addSql(`create index walk_follows_followee_index on walk_follows (followee_id)`);
  }
}
