// The walk rankings' statements (services/walk/rankings.ts), in one place because they are the hot
// path: bench/walk-rankings.ts times the recompute over 1M walks and the reads.
//
// Order everywhere: value desc, then user_id asc. Equal values share a rank (rank(): 1, 2, 2, 4),
// because two walkers with the same distance did the same; user_id only fixes the listing order
// inside a tie (row_number() → position), so a page and "around me" agree on who is next.

// Serialises recomputes (two cron processes, a manual run): without it two delete+insert
// transactions interleave and the later insert lands beside the earlier one's rows.
export const WALK_RANKINGS_LOCK = `select pg_advisory_xact_lock(hashtext('walk-rankings-recompute'))`;

// For this transaction only: the window sort over 260k entries (1M walks, 50k walkers) is ~30 MB,
// which the default 4 MB work_mem spills to disk.
export const WALK_RANKINGS_WORK_MEM = `set local work_mem = '64MB'`;

// The recompute builds the next table beside the live one and swaps it in. Filling an unindexed
// table and indexing it afterwards is 2.5× faster than inserting 260k rows into an indexed one
// (1.3 s against 3.2 s here: the random uuids of the primary key make every insert a random btree
// write), and a fresh table leaves no dead rows behind for the next hour. The indexes are the
// migration's (Migration20261127000302_walk_rankings), under the names it gave them: a test checks
// that a recompute leaves the same indexes. Readers wait only for the swap itself (the exclusive
// lock to the commit: milliseconds).
export const WALK_RANKINGS_NEXT = [
  `drop table if exists walk_rankings_next`,
  `create table walk_rankings_next (like walk_rankings including defaults including constraints)`,
];
export const WALK_RANKINGS_NEXT_INDEXES = [
  `alter table walk_rankings_next add constraint walk_rankings_next_pkey primary key (period_kind, metric, user_id)`,
  `create index walk_rankings_next_position_index on walk_rankings_next (period_kind, metric, position)`,
  `create index walk_rankings_next_region_index on walk_rankings_next (period_kind, metric, region, region_position) where region is not null`,
  // Statistics before the swap: a table without them looks empty to the planner, and the friends
  // view would scan a whole period instead of its circle.
  `analyze walk_rankings_next`,
];
export const WALK_RANKINGS_SWAP = [
  `lock table walk_rankings in access exclusive mode`,
  `drop table walk_rankings`,
  `alter table walk_rankings_next rename to walk_rankings`,
  `alter index walk_rankings_next_pkey rename to walk_rankings_pkey`,
  `alter index walk_rankings_next_position_index rename to walk_rankings_position_index`,
  `alter index walk_rankings_next_region_index rename to walk_rankings_region_index`,
];

// One pass over the trusted walks up to today (KST): per walker, the week's, month's and all time's
// distance and count by filtered aggregates (one scan, not three), unpivoted to one row per period
// and metric, then ranked over the whole field and within the walker's region (walk_profiles.region
// as it is now). The rank() and row_number() of one scope share a sort: their ORDER BYs are a
// prefix of each other. Parameters: week start ×2, month start ×2, today, week start ×2, month
// start ×2, now.
export const WALK_RANKINGS_RANKED = `
  with totals as (
    select w.user_id,
           sum(w.distance_m) filter (where w.local_date >= ?::date) as week_distance,
           count(*) filter (where w.local_date >= ?::date) as week_count,
           sum(w.distance_m) filter (where w.local_date >= ?::date) as month_distance,
           count(*) filter (where w.local_date >= ?::date) as month_count,
           sum(w.distance_m) as all_distance,
           count(*) as all_count
      from walks w
     where w.trusted and w.local_date <= ?::date
     group by w.user_id),
  entries as (
    select t.user_id, p.region, e.period_kind, e.period_start, e.metric, e.value
      from totals t
      left join walk_profiles p on p.user_id = t.user_id
     cross join lateral (values
       ('week', ?::date, 'distance', t.week_distance, t.week_count),
       ('week', ?::date, 'count', t.week_count, t.week_count),
       ('month', ?::date, 'distance', t.month_distance, t.month_count),
       ('month', ?::date, 'count', t.month_count, t.month_count),
       ('all', '1970-01-01'::date, 'distance', t.all_distance, t.all_count),
       ('all', '1970-01-01'::date, 'count', t.all_count, t.all_count)) e(period_kind, period_start, metric, value, walks)
     where e.walks > 0)
  select period_kind, metric, user_id, period_start, region, value,
         rank() over (whole order by value desc), row_number() over (whole order by value desc, user_id),
         case when region is not null then rank() over (local order by value desc) end,
         case when region is not null then row_number() over (local order by value desc, user_id) end,
         ?::timestamptz
    from entries
  window whole as (partition by period_kind, metric),
         local as (partition by period_kind, metric, region)`;

export const WALK_RANKINGS_RECOMPUTE = WALK_RANKINGS_RANKED.replace(/\n  select period_kind, metric, user_id/, `
  insert into walk_rankings_next (period_kind, metric, user_id, period_start, region, value, rank, position, region_rank, region_position, computed_at)
  select period_kind, metric, user_id`);

if (WALK_RANKINGS_RECOMPUTE === WALK_RANKINGS_RANKED) throw new Error('WALK_RANKINGS_RECOMPUTE: the insert did not land in the ranking statement');

// The same ranking computed and thrown away: what the recompute costs before it writes a row (the
// floor bench/walk-rankings.ts measures it against). Same parameters.
export const WALK_RANKINGS_COMPUTE_ONLY = `select count(*) as n from (${WALK_RANKINGS_RANKED}) ranked`;

// Closes a week or month once: the claim row decides which recompute writes it (a second one
// waits on the claim's unique key, then finds it taken and writes nothing), and the winners are
// read from the walks themselves (exact, not the last hourly table). Ties at the cut all enter.
// Parameters: kind, start, now, start, end (exclusive), top N. Answers the rows written.
export const WALK_HALL_OF_FAME_CLOSE = `
  with claimed as (
    insert into walk_hall_of_fame_periods (period_kind, period_start, closed_at)
    values (?, ?::date, ?::timestamptz)
    on conflict do nothing
    returning period_kind, period_start),
  totals as (
    select w.user_id, sum(w.distance_m) as distance, count(*) as walks
      from walks w
     where w.trusted and w.local_date >= ?::date and w.local_date < ?::date and exists (select 1 from claimed)
     group by w.user_id),
  ranked as (
    select t.user_id, m.metric, m.value, rank() over (partition by m.metric order by m.value desc) as rank
      from totals t
     cross join lateral (values ('distance', t.distance), ('count', t.walks)) m(metric, value))
  insert into walk_hall_of_fame (period_kind, metric, period_start, user_id, rank, value)
  select c.period_kind, r.metric, c.period_start, r.user_id, r.rank, r.value
    from ranked r cross join claimed c
   where r.rank <= ?
  on conflict do nothing
  returning metric`;

// A ranked row as answered, for the whole field or a region (the scope picks the rank columns).
// Reads join users so an account deleted since the recompute is gone at once (its place stays a gap
// until the next recompute).
const rankColumns = { all: 'r.rank, r.position', region: 'r.region_rank as rank, r.region_position as position' } as const;
const ROW_SELECT = (scope: 'all' | 'region') => `
  select r.user_id, p.nickname, r.value, ${rankColumns[scope]}, to_char(r.period_start, 'YYYY-MM-DD') as period_start, r.computed_at
    from walk_rankings r
    join users u on u.id = r.user_id
    left join walk_profiles p on p.user_id = r.user_id`;

// Parameters: kind, metric, limit.
export const WALK_TOP_ALL = `${ROW_SELECT('all')}
   where r.period_kind = ? and r.metric = ? order by r.position limit ?`;
// Parameters: kind, metric, region, limit.
export const WALK_TOP_REGION = `${ROW_SELECT('region')}
   where r.period_kind = ? and r.metric = ? and r.region = ? order by r.region_position limit ?`;
// Parameters: kind, metric, user.
export const WALK_MINE_ALL = `${ROW_SELECT('all')}
   where r.period_kind = ? and r.metric = ? and r.user_id = ?`;
// Parameters: kind, metric, user, region. The region is the viewer's now; the row's must match.
export const WALK_MINE_REGION = `${ROW_SELECT('region')}
   where r.period_kind = ? and r.metric = ? and r.user_id = ? and r.region = ?`;
// Parameters: kind, metric, from position, to position.
export const WALK_RANGE_ALL = `${ROW_SELECT('all')}
   where r.period_kind = ? and r.metric = ? and r.position between ? and ? order by r.position`;
// Parameters: kind, metric, region, from position, to position.
export const WALK_RANGE_REGION = `${ROW_SELECT('region')}
   where r.period_kind = ? and r.metric = ? and r.region = ? and r.region_position between ? and ? order by r.region_position`;

// The friends view, ranked at read time among the walker and the people they follow (a circle is
// small; its values come from the hourly table, so it agrees with the other views). The circle is
// unnested from an array so that it drives primary-key lookups of exactly its rows: as a joined set
// (or `= any`), the planner walked every ranked row of the period and probed the circle.
// Parameters: me, me, kind, metric, then the outer filter's.
const FRIENDS_RANKED = `
  with ranked as (
    select r.user_id, r.value, r.period_start, r.computed_at,
           rank() over (order by r.value desc) as rank,
           row_number() over (order by r.value desc, r.user_id) as position
      from unnest(array(select f.followee_id from walk_follows f where f.follower_id = ?) || ?::uuid) c(user_id)
      join walk_rankings r on r.period_kind = ? and r.metric = ? and r.user_id = c.user_id
      join users u on u.id = r.user_id)
  select k.user_id, p.nickname, k.value, k.rank, k.position, to_char(k.period_start, 'YYYY-MM-DD') as period_start, k.computed_at
    from ranked k
    left join walk_profiles p on p.user_id = k.user_id`;

// The top `limit` plus my row. Parameters: me, me, kind, metric, limit, me.
export const WALK_FRIENDS_TOP = `${FRIENDS_RANKED}
   where k.position <= ? or k.user_id = ? order by k.position`;
// My row and `span` rows either side. Parameters: me, me, kind, metric, me, span, span.
export const WALK_FRIENDS_AROUND = `${FRIENDS_RANKED}
   cross join (select position from ranked where user_id = ?) m
   where k.position between m.position - ? and m.position + ? order by k.position`;

// Past winners, newest periods first: the `limit` closed periods before `before` that have
// winners, each with all of its rows. Parameters: kind, metric, before, limit, kind, metric.
export const WALK_HALL_OF_FAME_LIST = `
  with periods as (
    select distinct period_start from walk_hall_of_fame
     where period_kind = ? and metric = ? and period_start < ?::date
     order by period_start desc limit ?)
  select to_char(h.period_start, 'YYYY-MM-DD') as period_start, h.user_id, p.nickname, h.rank, h.value
    from walk_hall_of_fame h
    join periods s on s.period_start = h.period_start
    left join walk_profiles p on p.user_id = h.user_id
   where h.period_kind = ? and h.metric = ?
   order by h.period_start desc, h.rank, h.user_id`;

export const WALK_PROFILE_REGION = `select region from walk_profiles where user_id = ?`;

// Nicknames for the live boards' items. Parameters: a uuid[] of users.
export const WALK_NICKNAMES = `select user_id, nickname from walk_profiles where user_id = any(?::uuid[])`;
