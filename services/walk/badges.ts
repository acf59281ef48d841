// Badges (seed 003 `badge_service.check_progress()`): 47 definitions whose rules are data
// (badgeDefinitions.ts), evaluated over a walker's trusted walks. One evaluation is two statements
// whatever the number of badges or walkers: every metric the rules name, for every walker asked
// about, in one query; then every (walker, badge) row in one upsert that also earns. A new trusted
// walk evaluates its walker in the walk's transaction; a rule changed in code is applied to every
// walker by the walk-badges-reevaluate cron job, in batches, resumable from where it stopped.
//
// Earned stays earned. A badge is earned once, under the rule of its time: a rule change that
// raises a target (or an untrusted walk, or a deleted walk) never takes it away. The row's current
// and target follow the new rule, so the numbers stay honest; a lowered target earns it for those
// who now meet it, and they are told.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { notFound } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import { BADGE_CATEGORIES, BADGE_DEFINITIONS, badgeRule, type BadgeCategory, type BadgeRule } from './badgeDefinitions.ts';
import type { CompletedWalk, WalkCompleteHook } from './walks.ts';
import { premiumFeatures } from './premium.ts';
import { pgArray } from '../pgArray.ts';

// How long a node keeps the badge rarity figures (premium's earnedShare).
const RARITY_TTL_MS = 10 * 60_000;

export const BADGE_STATUSES = ['locked', 'in_progress', 'earned'] as const;
export type BadgeStatus = (typeof BADGE_STATUSES)[number];

export const badgeCode = z.string().regex(/^[A-Z]{3,5}_\d{3}$/, 'must be a badge code such as DIST_010').meta({ example: 'DIST_010' });

export const badgeDto = z
  .object({
    code: badgeCode,
    category: z.enum(BADGE_CATEGORIES),
    name: z.string(),
    description: z.string(),
    tier: z.number().int().meta({ description: '1 (first step) to 5 (hardest) within its category' }),
    status: z.enum(BADGE_STATUSES),
    current: z.number().meta({ description: 'Where the walker stands on the rule (metres, walks, days, …), as of their last trusted walk' }),
    target: z.number(),
    earnedAt: z.string().nullable(),
    earnedShare: z.number().min(0).max(1).nullable().meta({ description: 'Premium: the share of walkers (with a trusted walk) who earned it, 0..1; null without premium' }),
  })
  .meta({ id: 'WalkBadge' });
export type BadgeDto = z.infer<typeof badgeDto>;

export const earnedBadgeDto = badgeDto.pick({ code: true, category: true, name: true, description: true, tier: true }).extend({ earnedAt: z.string() }).meta({ id: 'WalkEarnedBadge' });
export type EarnedBadgeDto = z.infer<typeof earnedBadgeDto>;

// A definition as the database holds it: the table, not this process's code, is what every node
// evaluates against, so nodes of two releases agree during a rolling deploy.
export type StoredDefinition = {
  code: string; category: BadgeCategory; name: string; description: string; tier: number; rule: BadgeRule; ruleVersion: string; appliedVersion: string | null; sortOrder: number;
};
type DefinitionRow = { code: string; category: BadgeCategory; name: string; description: string; tier: number; rule: unknown; rule_version: string; applied_version: string | null; sort_order: number };

export type EarnedBadge = { userId: string; code: string };

type BadgeNotifier = (userId: string, input: { type: string; title: string; body: string; data: Record<string, unknown>; dedupeKey?: string }) => Promise<unknown>;

// ~1 km cells for distinct_places: 0.009° of latitude is 1.0 km anywhere, and 0.0113° of longitude is
// 1.0 km at 37.5° N (Seoul; 0.95-1.05 km across Korea). Cells are cheaper to count than distances.
const CELL_LAT_DEG = 0.009;
const CELL_LNG_DEG = 0.0113;
// Definitions are read from the table at most this often per node (the cron job always reads them
// fresh): a changed rule reaches walk evaluations within this, long before the job's next slot.
const DEFINITIONS_TTL_MS = 30_000;
// The walk-together table is another part of the module; until it exists, together_walks is 0.
const TOGETHER_RECHECK_MS = 60_000;
const REEVALUATION = 'all';

// Where a rule's number comes from: a column of the metrics query. Rules that take parameters
// (hours, months, weekdays) get a column each, shared by identical rules.
function metricKey(rule: BadgeRule): string {
  if (rule.metric === 'walks_in_hours') return `hours:${[...rule.hours].sort((a, b) => a - b).join(',')}`;
  if (rule.metric === 'walks_in_months') return `months:${[...rule.months].sort((a, b) => a - b).join(',')}`;
  if (rule.metric === 'walks_on_weekdays') return `weekdays:${[...rule.days].sort((a, b) => a - b).join(',')}`;
  return rule.metric;
}


// The metrics query for these rules: one row per walker, a column per metric. Only trusted walks
// count; the parameterised columns are filtered counts over the same scan.
function metricsQuery(rules: BadgeRule[], userIds: string[], withTogether: boolean): { sql: string; params: unknown[]; columns: Map<string, string> } {
  const columns = new Map<string, string>();
  const extra: string[] = [];
  const aliases: string[] = [];
  const extraParams: unknown[] = [];
  for (const rule of rules) {
    const key = metricKey(rule);
    if (columns.has(key)) continue;
    if (rule.metric === 'walks_in_hours' || rule.metric === 'walks_in_months' || rule.metric === 'walks_on_weekdays') {
      const alias = `m${extra.length}`;
      const [expr, values] = rule.metric === 'walks_in_hours' ? ['local_hour', rule.hours]
        : rule.metric === 'walks_in_months' ? ['extract(month from local_date)::int', rule.months]
        : ['extract(isodow from local_date)::int', rule.days];
      extra.push(`, count(*) filter (where ${expr} = any(?::int[])) as ${alias}`);
      aliases.push(alias);
      extraParams.push(pgArray(values.map((x) => Math.trunc(x))));
      columns.set(key, alias);
    } else {
      columns.set(key, rule.metric);
    }
  }
  const together = withTogether
    ? `, tw as (
        select p.user_id, count(*) as together_walks from walk_session_participants p join u using (user_id)
         where p.joined_at is not null
           and exists (select 1 from walk_session_participants o where o.session_id = p.session_id and o.user_id <> p.user_id and o.joined_at is not null)
         group by p.user_id)`
    : '';
  const sql = `with u as (select unnest(?::uuid[]) as user_id),
    w as (select w.id, w.user_id, w.local_date, w.local_hour, w.distance_m, w.start_lat, w.start_lng, w.region from walks w join u using (user_id) where w.trusted),
    agg as (
      select user_id, count(*) as walk_count, count(distinct local_date) as walk_days, sum(distance_m) as total_distance_m, max(distance_m) as single_walk_distance_m,
             count(distinct region) as distinct_regions,
             count(distinct floor(start_lat / ${CELL_LAT_DEG})::text || ':' || floor(start_lng / ${CELL_LNG_DEG})::text) as distinct_places
             ${extra.join('\n             ')}
        from w group by user_id),
    wp as (select w.user_id, w.id, count(*) as pets from w join walk_walk_pets p on p.walk_id = w.id group by w.user_id, w.id),
    pets as (select user_id, count(*) as walks_with_pets, count(*) filter (where pets >= 2) as multi_pet_walks from wp group by user_id),
    dp as (select w.user_id, count(distinct p.pet_id) as distinct_pets from w join walk_walk_pets p on p.walk_id = w.id group by w.user_id),
    ph as (select w.user_id, count(*) as walks_with_photos from w where exists (select 1 from walk_photos f where f.walk_id = w.id) group by w.user_id)
    ${together}
    select u.user_id, agg.walk_count, agg.walk_days, agg.total_distance_m, agg.single_walk_distance_m, agg.distinct_regions, agg.distinct_places${aliases.map((a) => `, agg.${a}`).join('')},
           pets.walks_with_pets, pets.multi_pet_walks, dp.distinct_pets, ph.walks_with_photos,
           pr.longest_streak${withTogether ? ', tw.together_walks' : ', 0 as together_walks'}
      from u left join agg on agg.user_id = u.user_id left join pets on pets.user_id = u.user_id left join dp on dp.user_id = u.user_id
        left join ph on ph.user_id = u.user_id left join walk_profiles pr on pr.user_id = u.user_id${withTogether ? ' left join tw on tw.user_id = u.user_id' : ''}`;
  return { sql, params: [pgArray(userIds), ...extraParams], columns };
}

export function createBadgeService(deps: {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger; notify: BadgeNotifier;
  // The re-evaluation job: walkers per transaction, and per run (a run ends well inside its slot;
  // the next run continues from the stored cursor).
  reevaluation?: { batchSize?: number; maxUsersPerRun?: number };
}) {
  const { em, clock, time, logger } = deps;
  const batchSize = deps.reevaluation?.batchSize ?? 100;
  const maxUsersPerRun = deps.reevaluation?.maxUsersPerRun ?? 20_000;
  let cached: { at: number; definitions: StoredDefinition[] } | undefined;
  let together: { ready: boolean; checkedAt: number } = { ready: false, checkedAt: 0 };

  async function definitions(db: Em, opts: { fresh?: boolean } = {}): Promise<StoredDefinition[]> {
    const now = Date.now();
    if (!opts.fresh && cached && now - cached.at < DEFINITIONS_TTL_MS) return cached.definitions;
    const rows = await db.execute<DefinitionRow[]>(
      `select code, category, name, description, tier, rule, rule_version, applied_version, sort_order from walk_badge_definitions where active order by sort_order, code`);
    const list: StoredDefinition[] = [];
    for (const r of rows) {
      const rule = badgeRule.safeParse(r.rule);
      // A rule this release cannot read (written by a newer one) is left out, not guessed at.
      if (!rule.success) {
        logger.warn({ code: r.code }, 'badge rule not understood; badge skipped');
        continue;
      }
      list.push({ code: r.code, category: r.category, name: r.name, description: r.description, tier: r.tier, rule: rule.data, ruleVersion: r.rule_version, appliedVersion: r.applied_version, sortOrder: r.sort_order });
    }
    cached = { at: now, definitions: list };
    return list;
  }

  async function togetherReady(db: Em): Promise<boolean> {
    if (together.ready || Date.now() - together.checkedAt < TOGETHER_RECHECK_MS) return together.ready;
    const [r] = await db.execute<{ n: string }[]>(
      `select count(*) as n from information_schema.columns
        where table_schema = current_schema() and table_name = 'walk_session_participants' and column_name in ('session_id', 'user_id', 'joined_at')`);
    together = { ready: Number(r.n) === 3, checkedAt: Date.now() };
    return together.ready;
  }

  // Every metric of these walkers, by walker and metric key.
  async function metricsOf(db: Em, userIds: string[], defs: StoredDefinition[]): Promise<Map<string, (rule: BadgeRule) => number>> {
    const q = metricsQuery(defs.map((d) => d.rule), userIds, await togetherReady(db));
    const rows = await db.execute<Record<string, string | number | null>[]>(q.sql, q.params);
    const byUser = new Map<string, (rule: BadgeRule) => number>();
    for (const row of rows) byUser.set(String(row.user_id), (rule) => Number(row[q.columns.get(metricKey(rule))!] ?? 0));
    return byUser;
  }

  // Evaluates these walkers against every active badge in `tx`: writes their rows, earns what is
  // due, and tells each walker of what this evaluation earned once `tx` commits. Returns the earned.
  //
  // Earning is race-safe without a lock: the upsert keeps an earned row's earned_at and earned_by,
  // and an evaluation counts as the earner only when the row comes back carrying its own token. Two
  // evaluations of one walker racing: the second's upsert waits on the first's rows, then finds them
  // earned by the first.
  async function evaluate(tx: Em, userIds: string[], defs?: StoredDefinition[]): Promise<EarnedBadge[]> {
    const users = [...new Set(userIds)].sort();
    if (!users.length) return [];
    const list = defs ?? await definitions(tx);
    if (!list.length) return [];
    const metrics = await metricsOf(tx, users, list);
    const rows: { user_id: string; badge_code: string; status: BadgeStatus; current: number; target: number; rule_version: string }[] = [];
    for (const userId of users) {
      const of = metrics.get(userId) ?? (() => 0);
      for (const d of list) {
        const current = of(d.rule);
        const status: BadgeStatus = current >= d.rule.target ? 'earned' : current > 0 ? 'in_progress' : 'locked';
        rows.push({ user_id: userId, badge_code: d.code, status, current, target: d.rule.target, rule_version: d.ruleVersion });
      }
    }
    const token = crypto.randomUUID();
    const at = clock.now();
    // Rows go in (user, code) order so that two evaluations lock shared rows in the same order.
    const earned = await tx.execute<{ user_id: string; badge_code: string }[]>(
      `with up as (
         insert into walk_user_badges as b (user_id, badge_code, status, current, target, earned_at, earned_by, rule_version, updated_at)
         select x.user_id, x.badge_code, x.status, x.current, x.target,
                case when x.status = 'earned' then ?::timestamptz end, case when x.status = 'earned' then ?::uuid end, x.rule_version, ?::timestamptz
           from jsonb_to_recordset(?::jsonb) as x(user_id uuid, badge_code text, status text, current numeric, target numeric, rule_version text)
          order by x.user_id, x.badge_code
         on conflict (user_id, badge_code) do update set
           status = case when b.status = 'earned' then 'earned' else excluded.status end,
           earned_at = case when b.status = 'earned' then b.earned_at else excluded.earned_at end,
           earned_by = case when b.status = 'earned' then b.earned_by else excluded.earned_by end,
           current = excluded.current, target = excluded.target, rule_version = excluded.rule_version, updated_at = excluded.updated_at
         where b.current <> excluded.current or b.target <> excluded.target or b.rule_version <> excluded.rule_version
            or (b.status <> 'earned' and b.status <> excluded.status)
         returning b.user_id, b.badge_code, b.status, b.earned_by
       )
       select user_id, badge_code from up where status = 'earned' and earned_by = ?`,
      [at, token, at, JSON.stringify(rows), token]);
    const byCode = new Map(list.map((d) => [d.code, d]));
    for (const e of earned) {
      const d = byCode.get(e.badge_code)!;
      onCommitted(tx, () => tell(e.user_id, d));
    }
    return earned.map((e) => ({ userId: e.user_id, code: e.badge_code }));
  }

  function tell(userId: string, d: StoredDefinition): void {
    void deps.notify(userId, {
      type: 'walk.badge_earned',
      title: `새 배지를 획득했어요: ${d.name}`,
      body: d.description,
      data: { badgeCode: d.code, category: d.category, name: d.name, tier: d.tier },
      // A badge is earned once; the inbox keeps one notice of it even if this were ever sent twice.
      dedupeKey: `walk.badge_earned:${d.code}`,
    }).catch((err: unknown) => logger.warn({ err, userId, badge: d.code }, 'badge notification not sent'));
  }

  // The walk's own hook: an untrusted walk counts for nothing, so it changes nothing.
  const onWalkComplete: WalkCompleteHook = async (tx: Em, walk: CompletedWalk) => {
    if (!walk.trusted) return;
    await evaluate(tx, [walk.userId]);
  };

  // One walker, in a transaction of its own (after a photo, an admin's request, tests).
  function evaluateUser(userId: string): Promise<EarnedBadge[]> {
    return inTransaction(em.fork(), (tx) => evaluate(tx, [userId]));
  }

  type ProgressRow = DefinitionRow & { status: BadgeStatus | null; current: string | null; earned_at: Date | null };

  // Premium's badge rarity: how many of the walkers with badge progress earned each badge. One scan of
  // walk_user_badges, kept for RARITY_TTL_MS per node (rarity moves slowly).
  let rarity: { at: number; shares: Map<string, number> } | undefined;
  async function raritiesFor(db: Em, userId: string): Promise<Map<string, number> | null> {
    if (!(await premiumFeatures(db, userId, clock.now())).badgeRarity) return null;
    if (rarity && Date.now() - rarity.at < RARITY_TTL_MS) return rarity.shares;
    const rows = await db.execute<{ badge_code: string; share: number | null }[]>(
      `select badge_code, (count(*) filter (where status = 'earned'))::float8 / nullif((select count(distinct user_id) from walk_user_badges), 0) as share
         from walk_user_badges group by badge_code`);
    rarity = { at: Date.now(), shares: new Map(rows.map((r) => [r.badge_code, Math.round(Number(r.share ?? 0) * 1000) / 1000])) };
    return rarity.shares;
  }

  function toDto(r: ProgressRow, shares: Map<string, number> | null = null): BadgeDto {
    const rule = badgeRule.parse(r.rule);
    const current = Number(r.current ?? 0);
    // The target is the rule's as it stands; the row's status only ever says earned or not (a
    // target lowered since the last evaluation earns at the next one, with its notification).
    const status: BadgeStatus = r.status === 'earned' ? 'earned' : current > 0 ? 'in_progress' : 'locked';
    return {
      code: r.code, category: r.category, name: r.name, description: r.description, tier: r.tier,
      status, current, target: rule.target, earnedAt: status === 'earned' && r.earned_at ? time.format(new Date(r.earned_at)) : null,
      earnedShare: shares ? (shares.get(r.code) ?? 0) : null,
    };
  }

  const PROGRESS_SELECT = `select d.code, d.category, d.name, d.description, d.tier, d.rule, d.rule_version, d.applied_version, d.sort_order, b.status, b.current, b.earned_at
      from walk_badge_definitions d left join walk_user_badges b on b.badge_code = d.code and b.user_id = ?
     where d.active`;

  // GET /badges: every active badge with my progress (locked with 0 until my first trusted walk).
  async function list(userId: string, opts: { category?: BadgeCategory } = {}): Promise<BadgeDto[]> {
    const db = em.fork();
    const rows = await db.execute<ProgressRow[]>(
      `${PROGRESS_SELECT}${opts.category ? ' and d.category = ?' : ''} order by d.sort_order, d.code`,
      opts.category ? [userId, opts.category] : [userId]);
    const shares = await raritiesFor(db, userId);
    return rows.map((r) => toDto(r, shares));
  }

  async function get(userId: string, code: string): Promise<BadgeDto> {
    const db = em.fork();
    const [r] = await db.execute<ProgressRow[]>(`${PROGRESS_SELECT} and d.code = ?`, [userId, code]);
    if (!r) throw notFound('Badge');
    return toDto(r, await raritiesFor(db, userId));
  }

  // Someone's earned badges, newest first (what a profile shows; progress stays its owner's). A badge
  // retired from the code still shows: it was earned.
  async function earnedBy(userId: string): Promise<EarnedBadgeDto[]> {
    const db = em.fork();
    const [user] = await db.execute<{ id: string }[]>(`select id from users where id = ? and disabled_at is null`, [userId]);
    if (!user) throw notFound('User');
    const rows = await db.execute<{ code: string; category: BadgeCategory; name: string; description: string; tier: number; earned_at: Date }[]>(
      `select d.code, d.category, d.name, d.description, d.tier, b.earned_at
         from walk_user_badges b join walk_badge_definitions d on d.code = b.badge_code
        where b.user_id = ? and b.status = 'earned' order by b.earned_at desc, d.sort_order`, [userId]);
    return rows.map((r) => ({ code: r.code, category: r.category, name: r.name, description: r.description, tier: r.tier, earnedAt: time.format(new Date(r.earned_at)) }));
  }

  // The walk-badges-reevaluate job. When a definition's rule version differs from the version every
  // walker was last taken through (a rule changed, a badge added), every walker with a trusted walk
  // is evaluated again, in user id order, `batchSize` per transaction. The cursor moves in the same
  // transaction as the batch, so a run that dies mid-way loses at most its open batch, which the next
  // run does again; doing a walker twice is harmless (the upsert is idempotent and earns once). A
  // rule changed again mid-way starts the pass over (walkers already done were done by the old rule).
  // `maxUsers` bounds one run; the rest waits for the next slot.
  async function reevaluateAll(opts: { signal?: AbortSignal; maxUsers?: number } = {}): Promise<{ stale: number; users: number; finished: boolean }> {
    const limit = opts.maxUsers ?? maxUsersPerRun;
    const db = em.fork();
    const defs = await definitions(db, { fresh: true });
    const stale = defs.filter((d) => d.appliedVersion !== d.ruleVersion);
    if (!stale.length) return { stale: 0, users: 0, finished: true };
    const versions = Object.fromEntries(defs.map((d) => [d.code, d.ruleVersion]));
    const [cursor] = await db.execute<{ versions: Record<string, string>; finished_at: Date | null }[]>(
      `select versions, finished_at from walk_badge_reevaluations where name = ?`, [REEVALUATION]);
    if (!cursor || cursor.finished_at || !sameVersions(cursor.versions, versions)) {
      const now = clock.now();
      await db.execute(
        `insert into walk_badge_reevaluations (name, versions, after_user_id, users_done, started_at, updated_at, finished_at) values (?, ?::jsonb, null, 0, ?, ?, null)
         on conflict (name) do update set versions = excluded.versions, after_user_id = null, users_done = 0, started_at = excluded.started_at, updated_at = excluded.updated_at, finished_at = null`,
        [REEVALUATION, JSON.stringify(versions), now, now]);
      logger.info({ stale: stale.map((d) => d.code) }, 'badge re-evaluation started');
    }
    let users = 0;
    while (users < limit && !opts.signal?.aborted) {
      const step = await inTransaction(em.fork(), async (tx) => {
        // The cursor row is the run's lock: a second runner waits here, then continues after it.
        const [c] = await tx.execute<{ versions: Record<string, string>; after_user_id: string | null; finished_at: Date | null }[]>(
          `select versions, after_user_id, finished_at from walk_badge_reevaluations where name = ? for update`, [REEVALUATION]);
        if (!c || c.finished_at || !sameVersions(c.versions, versions)) return { done: 0, finished: true };
        const ids = (await tx.execute<{ user_id: string }[]>(
          `select distinct user_id from walks where trusted${c.after_user_id ? ' and user_id > ?' : ''} order by user_id limit ?`,
          c.after_user_id ? [c.after_user_id, Math.min(batchSize, limit - users)] : [Math.min(batchSize, limit - users)])).map((r) => r.user_id);
        if (!ids.length) {
          await tx.execute(`update walk_badge_reevaluations set finished_at = ?, updated_at = ? where name = ?`, [clock.now(), clock.now(), REEVALUATION]);
          // Only the versions this pass was for: a rule changed meanwhile stays stale for the next pass.
          await tx.execute(
            `update walk_badge_definitions d set applied_version = v.value from jsonb_each_text(?::jsonb) v where d.code = v.key and d.rule_version = v.value`,
            [JSON.stringify(versions)]);
          return { done: 0, finished: true };
        }
        // A walker's walk holds their profile row until it commits: taking the rows here first means
        // the metrics below include any walk being stored right now, and never overwrite its newer numbers.
        await tx.execute(`select 1 from walk_profiles where user_id = any(?::uuid[]) order by user_id for update`, [pgArray(ids)]);
        await evaluate(tx, ids, defs);
        await tx.execute(`update walk_badge_reevaluations set after_user_id = ?, users_done = users_done + ?, updated_at = ? where name = ?`,
          [ids[ids.length - 1], ids.length, clock.now(), REEVALUATION]);
        return { done: ids.length, finished: false };
      });
      users += step.done;
      if (step.finished) {
        logger.info({ users }, 'badge re-evaluation finished');
        return { stale: stale.length, users, finished: true };
      }
    }
    return { stale: stale.length, users, finished: false };
  }

  return { definitions, evaluate, evaluateUser, onWalkComplete, list, get, earnedBy, reevaluateAll };
}

export type BadgeService = ReturnType<typeof createBadgeService>;

function sameVersions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

// The module's seed: the definitions in code, upserted (idempotent: a second run changes nothing).
// A rule change rewrites rule_version and leaves applied_version, which is what the cron job looks
// for. A badge no longer in the code is deactivated: hidden from lists, kept by those who earned it.
export async function seedBadgeDefinitions(em: Em): Promise<void> {
  const rows = BADGE_DEFINITIONS.map((d) => ({
    code: d.code, category: d.category, name: d.name, description: d.description, tier: d.tier, rule: d.rule, rule_version: d.ruleVersion, sort_order: d.sortOrder,
  }));
  await em.execute(
    `insert into walk_badge_definitions as d (code, category, name, description, tier, rule, rule_version, sort_order, active)
     select x.code, x.category, x.name, x.description, x.tier, x.rule, x.rule_version, x.sort_order, true
       from jsonb_to_recordset(?::jsonb) as x(code text, category text, name text, description text, tier smallint, rule jsonb, rule_version text, sort_order integer)
     on conflict (code) do update set category = excluded.category, name = excluded.name, description = excluded.description, tier = excluded.tier,
       rule = excluded.rule, rule_version = excluded.rule_version, sort_order = excluded.sort_order, active = true, updated_at = now()
     where (d.category, d.name, d.description, d.tier, d.rule, d.rule_version, d.sort_order, d.active)
       is distinct from (excluded.category, excluded.name, excluded.description, excluded.tier, excluded.rule, excluded.rule_version, excluded.sort_order, true)`,
    [JSON.stringify(rows)]);
  await em.execute(
    `update walk_badge_definitions set active = false, updated_at = now() where active and code <> all(?::text[])`,
    [pgArray(rows.map((r) => r.code))]);
}
