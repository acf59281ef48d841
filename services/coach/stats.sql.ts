// The admin statistics query, kept readable in one place. One row per (local day, plan) that had
// a call or a quota refusal; days are calendar days in the configured zone (KST by default), and
// the range is [from, to] in those days, both inclusive.
// Parameters, in order: from (YYYY-MM-DD), to (YYYY-MM-DD), time zone (IANA name).
export const COACH_STATS_BY_DAY_AND_PLAN = `
with params as (
  select ?::date as from_day, ?::date as to_day, ?::text as tz
),
bounds as (
  select tz,
         from_day::timestamp at time zone tz      as starts_at,
         (to_day + 1)::timestamp at time zone tz  as ends_at
    from params
),
answers as (
  select (date_trunc('day', a.created_at at time zone b.tz))::date as day,
         a.plan_tier,
         count(*)                                          as calls,
         coalesce(sum(a.cost_usd), 0)                      as cost_usd,
         count(*) filter (where a.cache_kind = 'exact')    as exact_hits,
         count(*) filter (where a.cache_kind = 'semantic') as semantic_hits
    from coach_answers a, bounds b
   where a.created_at >= b.starts_at and a.created_at < b.ends_at
   group by 1, 2
),
refusals as (
  select (date_trunc('day', r.refused_at at time zone b.tz))::date as day,
         r.plan_tier,
         count(*) as quota_refusals
    from coach_quota_refusals r, bounds b
   where r.refused_at >= b.starts_at and r.refused_at < b.ends_at
   group by 1, 2
)
select to_char(coalesce(a.day, r.day), 'YYYY-MM-DD')   as day,
       coalesce(a.plan_tier, r.plan_tier)              as plan_tier,
       coalesce(a.calls, 0)::int                       as calls,
       coalesce(a.cost_usd, 0)::float8                 as cost_usd,
       coalesce(a.exact_hits, 0)::int                  as exact_hits,
       coalesce(a.semantic_hits, 0)::int               as semantic_hits,
       coalesce(r.quota_refusals, 0)::int              as quota_refusals
  from answers a
  full join refusals r on r.day = a.day and r.plan_tier = a.plan_tier
 order by 1, 2`;
