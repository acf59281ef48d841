// The rankings' statements (services/rankings/rankings.ts), in one place because they are the hot
// path (bench/rankings.ts times them). Every ordering is `score desc, item_id desc` with item_id in
// the "C" collation (byte order): the order of a Redis sorted set read with ZREVRANGE, so both
// stores answer the same. ranking_scores_order_index serves it.

// One statement for the four periods holding the instant, so they move together. Every add lists
// the periods in the same order (daily, weekly, monthly, all), so concurrent adds lock their rows in
// one order and cannot deadlock. Parameters: (board, start, item, points) × 4.
export const RANKING_ADD = `
  insert into ranking_scores (board, period_kind, period_start, item_id, score)
  values (?, 'daily', ?::date, ?, ?::bigint), (?, 'weekly', ?::date, ?, ?::bigint), (?, 'monthly', ?::date, ?, ?::bigint), (?, 'all', ?::date, ?, ?::bigint)
  on conflict (board, period_kind, period_start, item_id)
  do update set score = ranking_scores.score + excluded.score, version = ranking_scores.version + 1
  returning period_kind, to_char(period_start, 'YYYY-MM-DD') as period_start, score, version`;

// Parameters: board, kind, start, limit.
export const RANKING_TOP = `
  select item_id, score from ranking_scores
   where board = ? and period_kind = ? and period_start = ?::date
   order by score desc, item_id desc limit ?`;

// An item's score and 1-based rank: one plus the rows ahead of it in the ranking's order (the row
// comparison is an index range, counted without visiting the table once the map is all-visible).
// Parameters: board, kind, start, item.
export const RANKING_RANK_OF = `
  select s.score,
         (select count(*) from ranking_scores a
           where a.board = s.board and a.period_kind = s.period_kind and a.period_start = s.period_start
             and (a.score, a.item_id) > (s.score, s.item_id)) + 1 as rank
    from ranking_scores s
   where s.board = ? and s.period_kind = ? and s.period_start = ?::date and s.item_id = ?`;

// Growth of today's score over yesterday's, growing items only. Parameters: yesterday, board, today, limit.
export const RANKING_TRENDING = `
  select t.item_id, t.score, coalesce(y.score, 0) as previous, t.score - coalesce(y.score, 0) as growth
    from ranking_scores t
    left join ranking_scores y on y.board = t.board and y.period_kind = 'daily' and y.period_start = ?::date and y.item_id = t.item_id
   where t.board = ? and t.period_kind = 'daily' and t.period_start = ?::date and t.score > coalesce(y.score, 0)
   order by growth desc, t.score desc, t.item_id desc limit ?`;

// Every board with a score, by a skip scan of the primary key (one index probe per board, not a
// scan of every row).
export const RANKING_BOARDS = `
  with recursive b(board) as (
    (select board from ranking_scores order by board limit 1)
    union all
    select (select r.board from ranking_scores r where r.board > b.board order by r.board limit 1) from b where b.board is not null)
  select board from b where board is not null`;

// One page of a period's rows in key order, for rebuilding its Redis set. Parameters: board, kind,
// start, after item, limit.
export const RANKING_PAGE = `
  select item_id, score, version from ranking_scores
   where board = ? and period_kind = ? and period_start = ?::date and item_id > ?
   order by item_id limit ?`;

export const RANKING_SNAPSHOT_DELETE = `delete from ranking_snapshots where board = ? and day = ?::date`;

// A day's closing ranks in every period holding the day. A period's score at the end of day D is its
// live score minus what its later days added (every add moves its day and its periods together), so
// a snapshot taken at 00:05, or re-run a week later, reads the same. Items whose whole score came
// after D are left out. Parameters: D, D, week start, week's last day, month start, month's last
// day, the "all" start, board, D, board, board, D. Answers the rows written per period.
export const RANKING_SNAPSHOT_INSERT = `
  with p(kind, start, last) as (
    values ('daily', ?::date, ?::date), ('weekly', ?::date, ?::date), ('monthly', ?::date, ?::date), ('all', ?::date, 'infinity'::date)),
  later as (
    select p.kind, d.item_id, sum(d.score) as score
      from p join ranking_scores d on d.board = ? and d.period_kind = 'daily' and d.period_start > ?::date and d.period_start <= p.last
     where p.kind <> 'daily'
     group by p.kind, d.item_id),
  asof as (
    select s.period_kind, s.period_start, s.item_id, s.score - coalesce(l.score, 0) as score, coalesce(s.score = l.score, false) as all_later
      from p join ranking_scores s on s.board = ? and s.period_kind = p.kind and s.period_start = p.start
      left join later l on l.kind = s.period_kind and l.item_id = s.item_id),
  ins as (
    insert into ranking_snapshots (board, period_kind, period_start, day, item_id, rank, score)
    select ?, period_kind, period_start, ?::date, item_id, row_number() over (partition by period_kind order by score desc, item_id desc), score
      from asof where not all_later
    returning period_kind)
  select period_kind, count(*) as n from ins group by period_kind`;

// Parameters: board, day, kind, limit.
export const RANKING_SNAPSHOT_READ = `
  select item_id, rank, score from ranking_snapshots
   where board = ? and day = ?::date and period_kind = ? order by rank limit ?`;
