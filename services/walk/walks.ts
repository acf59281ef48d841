// Walks (seed 003 `walks`, `walk_service.validate_walk()` and `on_walk_complete()`): a GPS track is
// analysed in the geo worker (workers/geo.ts: distance along a smoothed path, speed windows, jumps,
// spoofing signs), scored for trust, and stored with its route, bounds and calories. A walk is kept
// even when it is flagged; only a trusted one counts for streaks, badges and rankings, and its owner
// sees why a flagged one does not. `POST /walks` is idempotent per (user, clientWalkId): a retry
// returns the stored walk and moves nothing again. What a new walk moves (the streak here, then the
// hooks: badges, rankings) happens in the walk's own transaction, so it happens once or not at all.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';
import { haversineM, type TrackAnalysis, type TrackPoint, type TrackReason } from '../../workers/geo.ts';
import type { WorkerPool } from '../../workers/pool.ts';
import { cursorCodec } from '../cursor.ts';
import { AppError, notFound, validationError } from '../errors.ts';
import { acceptImage } from '../images.ts';
import { CLIENT_DATE_RANGE, clientInstant, zoneCalendar, type Clock, type TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { PetService } from './pets.ts';
import { blockedEitherWay } from './social.ts';
import type { HomeZone, ProfileService } from './profiles.ts';
import { premiumFeatures } from './premium.ts';

// ---- What other parts of the module see of a new walk ----

export type CompletedWalk = {
  id: string; userId: string; startedAt: Date; endedAt: Date; localDate: string; localHour: number;
  distanceM: number; durationS: number; trusted: boolean; region: string | null; startLat: number; startLng: number; petIds: string[];
};
// Runs in the walk's transaction, after the walk row and the streak; may register onCommitted work.
export type WalkCompleteHook = (tx: Em, walk: CompletedWalk) => Promise<void>;

// ---- Input ----

export const MAX_TRACK_POINTS = 20_000;
// A track at 1 Hz for 20,000 fixes is ~1.4 MB of JSON; room for GeoJSON's extra brackets.
export const WALK_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const MAX_WALK_HOURS = 24;
const FUTURE_SLACK_MS = 5 * 60_000;
const MIN_MS = Date.parse(`${CLIENT_DATE_RANGE.min}T00:00:00Z`);


// The fixes are checked one by one in the geo worker (finite numbers, ranges, time order, with the
// fix's index in the error), not here: a per-fix zod pass over 20,000 fixes would cost the request
// thread as much as the whole analysis. The shapes are documented here.
const FIX_SHAPE = '{lat (-90..90), lng (-180..180), t (epoch ms), accuracy? (metres)}';
const fixes = (what: string) => z.array(z.unknown()).min(2).max(MAX_TRACK_POINTS).meta({ description: what });

// GeoJSON: a LineString Feature whose times are in properties.coordTimes (what GPX → GeoJSON
// converters write: ISO instants, or epoch ms here too), optionally with per-fix accuracies.
export const geoJsonTrack = z.object({
  type: z.literal('Feature'),
  geometry: z.object({ type: z.literal('LineString'), coordinates: fixes('[lng, lat] pairs') }),
  properties: z.object({
    coordTimes: fixes('One instant per coordinate: ISO 8601 with an offset, or epoch ms'),
    accuracies: z.array(z.unknown()).max(MAX_TRACK_POINTS).optional().meta({ description: 'Metres, one per coordinate' }),
  }),
});

export const walkInput = z
  .object({
    clientWalkId: z.string().trim().min(1).max(64).meta({ description: 'The app\'s own id for the walk: a retry with the same id returns the stored walk' }),
    points: fixes(`The track as fixes ${FIX_SHAPE} in time order (or send \`geojson\`)`).optional(),
    geojson: geoJsonTrack.optional().meta({ description: 'The track as a GeoJSON LineString Feature with properties.coordTimes (or send `points`)' }),
    petIds: z.array(z.uuid()).max(10).default([]),
  })
  .superRefine((w, ctx) => {
    if ((w.points === undefined) === (w.geojson === undefined)) ctx.addIssue({ code: 'custom', path: ['points'], message: 'send the track as exactly one of points or geojson' });
    if (w.geojson && w.geojson.properties.coordTimes.length !== w.geojson.geometry.coordinates.length) {
      ctx.addIssue({ code: 'custom', path: ['geojson', 'properties', 'coordTimes'], message: 'needs one time per coordinate' });
    }
    if (w.geojson?.properties.accuracies && w.geojson.properties.accuracies.length !== w.geojson.geometry.coordinates.length) {
      ctx.addIssue({ code: 'custom', path: ['geojson', 'properties', 'accuracies'], message: 'needs one accuracy per coordinate' });
    }
  });
export type WalkInput = z.infer<typeof walkInput>;

// ---- Output ----

const reasonDto = z.object({
  code: z.enum(['too_short', 'too_fast', 'spoofed', 'impossible_jump']),
  message: z.string(),
  penalty: z.number().int(),
});
const routeDto = z.object({ type: z.literal('LineString'), coordinates: z.array(z.array(z.number())) }).meta({ description: 'GeoJSON LineString, [lng, lat] pairs' });
const boundsDto = z.object({ minLat: z.number(), maxLat: z.number(), minLng: z.number(), maxLng: z.number() });
const photoDto = z.object({ id: z.uuid(), url: z.string(), lat: z.number().nullable(), lng: z.number().nullable(), takenAt: z.string().nullable(), width: z.number().int(), height: z.number().int() });

export const walkDto = z
  .object({
    id: z.uuid(), userId: z.uuid(), clientWalkId: z.string().optional().meta({ description: 'Yours only' }),
    startedAt: z.string(), endedAt: z.string(), localDate: z.string(),
    distanceM: z.number().int(), durationS: z.number().int(), movingTimeS: z.number().int(), calories: z.number().int(),
    trusted: z.boolean().meta({ description: 'Counts for streaks, badges and rankings' }),
    trustScore: z.number().int().meta({ description: '0..100; 100 less each reason\'s penalty' }),
    trustReasons: z.array(reasonDto).meta({ description: 'Why the walk does not count (empty when trusted)' }),
    route: routeDto, bounds: boundsDto,
    routeTrimmed: z.boolean().meta({ description: 'True when the owner\'s home zones were cut from the start and end (what others see)' }),
    petIds: z.array(z.uuid()), photos: z.array(photoDto),
    createdAt: z.string(),
  })
  .meta({ id: 'Walk' });
export type WalkDto = z.infer<typeof walkDto>;

export const walkSummaryDto = walkDto.omit({ route: true, photos: true }).meta({ id: 'WalkSummary' });

const calendarDayDto = z.object({ date: z.string(), walks: z.number().int(), trustedWalks: z.number().int(), distanceM: z.number().int(), durationS: z.number().int() });
// historyFrom: free walkers see their walks since this instant only (services/walk/premium.ts); null for premium.
const historyFrom = z.string().nullable().meta({ description: 'Without premium, walks before this are not shown (the last 90 days); null with premium' });
export const calendarDto = z.object({ month: z.string(), days: z.array(calendarDayDto), historyFrom }).meta({ id: 'WalkCalendar' });
export const walkListDto = z.object({ items: z.array(walkSummaryDto), nextCursor: z.string().nullable(), historyFrom });
export const statsDto = z
  .object({
    period: z.enum(['week', 'month', 'year', 'all']), from: z.string().nullable(), to: z.string().nullable(),
    walks: z.number().int(), trustedWalks: z.number().int(), distanceM: z.number().int(), durationS: z.number().int(), calories: z.number().int(),
    averageDistanceM: z.number().int(), longestWalkM: z.number().int(),
  })
  .meta({ id: 'WalkStats' });

// ---- Trust ----

// Each reason's cost to the trust score, and the words the walker reads. A flagged walk has at
// least one reason, so it never counts whatever its score; the score says how far off it is.
const PENALTY: Record<TrackReason, number> = { too_short: 100, too_fast: 60, spoofed: 70, impossible_jump: 50 };

function trustOf(a: TrackAnalysis, limits: WalkLimits): { score: number; reasons: z.infer<typeof reasonDto>[] } {
  const reasons = a.verdict.reasons.map((code) => {
    const message =
      code === 'too_short' ? `${Math.round(a.distanceM)} m is shorter than the ${limits.minDistanceM} m a walk needs`
      : code === 'too_fast' ? `average ${a.avgSpeedKmh} km/h, ${Math.round(a.fastShare * 100)}% of the moving time above ${limits.maxSpeedKmh} km/h: faster than walking`
      : code === 'spoofed' ? `the fixes look generated (${[a.spoofing.regularSteps && 'perfectly regular steps', a.spoofing.zeroJitter && 'no GPS jitter', a.spoofing.repeatedFixes && 'repeated positions'].filter(Boolean).join(', ')})`
      : `${a.jumpCount} impossible jump${a.jumpCount === 1 ? '' : 's'}${a.jumps[0] ? ` (e.g. ${Math.round(a.jumps[0].distanceM)} m at ${a.jumps[0].speedKmh ?? '∞'} km/h)` : ''}`;
    return { code, message, penalty: PENALTY[code] };
  });
  return { score: Math.max(0, 100 - reasons.reduce((sum, r) => sum + r.penalty, 0)), reasons };
}

// ---- Geometry ----

export const insideHomeZone = (zones: HomeZone[], lat: number, lng: number) => zones.some((z) => haversineM(z, { lat, lng }) <= z.radiusM);

// Within GPS noise (3–10 m): the stored route drops the jitter, not the streets.
const ROUTE_TOLERANCE_M = 5;

// The route others see: leading and trailing points inside the owner's home zones are cut, so a
// walk shown to others never starts or ends at home.
export function trimHomeZones(coordinates: [number, number][], zones: HomeZone[]): { coordinates: [number, number][]; trimmed: boolean } {
  if (!zones.length) return { coordinates, trimmed: false };
  let start = 0;
  let end = coordinates.length;
  while (start < end && insideHomeZone(zones, coordinates[start][1], coordinates[start][0])) start++;
  while (end > start && insideHomeZone(zones, coordinates[end - 1][1], coordinates[end - 1][0])) end--;
  return { coordinates: coordinates.slice(start, end), trimmed: start > 0 || end < coordinates.length };
}

function boundsOf(coordinates: [number, number][]): z.infer<typeof boundsDto> {
  let [minLat, maxLat, minLng, maxLng] = [90, -90, 180, -180];
  for (const [x, y] of coordinates) {
    minLat = Math.min(minLat, y); maxLat = Math.max(maxLat, y); minLng = Math.min(minLng, x); maxLng = Math.max(maxLng, x);
  }
  return coordinates.length ? { minLat, maxLat, minLng, maxLng } : { minLat: 0, maxLat: 0, minLng: 0, maxLng: 0 };
}

// Calories a dog burns walking: about 0.8 kcal per kg of body weight per km (a common veterinary
// rule of thumb). A pet with no weight on record counts as a 10 kg dog; a walk naming no pet has none.
const KCAL_PER_KG_KM = 0.8;
const DEFAULT_PET_KG = 10;
const caloriesOf = (distance: number, weights: (number | null)[]) => Math.round(weights.reduce<number>((sum, w) => sum + KCAL_PER_KG_KM * (w ?? DEFAULT_PET_KG) * (distance / 1000), 0));

// ---- The service ----

export type WalkLimits = { maxPoints: number; minDistanceM: number; maxSpeedKmh: number };

type WalkRow = {
  id: string; user_id: string; client_walk_id: string; started_at: Date; ended_at: Date; local_date: string; distance_m: number; duration_s: number;
  moving_time_s: number; calories: number; route: { type: 'LineString'; coordinates: [number, number][] }; min_lat: number; max_lat: number; min_lng: number;
  max_lng: number; trust_score: number; trusted: boolean; trust_reasons: z.infer<typeof reasonDto>[]; pet_ids: string[] | null; created_at: Date;
};
type PhotoRow = { id: string; walk_id: string; storage_key: string; lat: number | null; lng: number | null; taken_at: Date | null; width: number; height: number };

const WALK_SELECT = `select w.id, w.user_id, w.client_walk_id, w.started_at, w.ended_at, to_char(w.local_date, 'YYYY-MM-DD') as local_date, w.distance_m, w.duration_s,
  w.moving_time_s, w.calories, w.route, w.min_lat, w.max_lat, w.min_lng, w.max_lng, w.trust_score, w.trusted, w.trust_reasons, w.created_at,
  (select array_agg(p.pet_id order by p.pet_id) from walk_walk_pets p where p.walk_id = w.id) as pet_ids
  from walks w`;
const listCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));
const PHOTO_URL_SECONDS = 3600;
const MAX_PHOTOS_PER_WALK = 20;

export function createWalkService(deps: {
  em: Em; time: TimeFormatter; clock: Clock; logger: Logger; pool: WorkerPool; storage: ObjectStorage; profiles: ProfileService; pets: PetService;
  limits: WalkLimits; onWalkComplete: WalkCompleteHook[];
  // After a new walk committed (walk-together sessions of the walker end, for one).
  onCommittedWalk?: (walk: CompletedWalk) => void;
  // After a photo of a walk was stored (photo badges).
  onPhotoAdded?: (userId: string) => void;
}) {
  const { em, time, clock, storage } = deps;
  const calendar = zoneCalendar(time.zone);

  async function photosOf(db: Em, walkId: string, zones: HomeZone[] | null): Promise<z.infer<typeof photoDto>[]> {
    const rows = await db.execute<PhotoRow[]>(`select * from walk_photos where walk_id = ? order by taken_at nulls last, created_at`, [walkId]);
    return Promise.all(rows.map(async (r) => {
      // Others never learn where a photo inside a home zone was taken.
      const hidden = zones !== null && r.lat !== null && r.lng !== null && insideHomeZone(zones, r.lat, r.lng);
      const { url } = await storage.presignGet(r.storage_key, { expiresInSeconds: PHOTO_URL_SECONDS });
      return { id: r.id, url, lat: hidden ? null : r.lat, lng: hidden ? null : r.lng, takenAt: time.formatNullable(r.taken_at), width: r.width, height: r.height };
    }));
  }

  // `others`: the owner's home zones, when the viewer is someone else (the route is cut, ids hidden).
  function toDto(r: WalkRow, others: HomeZone[] | null, photos: z.infer<typeof photoDto>[] = []): WalkDto {
    const cut = others ? trimHomeZones(r.route.coordinates, others) : { coordinates: r.route.coordinates, trimmed: false };
    return {
      id: r.id, userId: r.user_id, ...(others ? {} : { clientWalkId: r.client_walk_id }),
      startedAt: time.format(new Date(r.started_at)), endedAt: time.format(new Date(r.ended_at)), localDate: r.local_date,
      distanceM: r.distance_m, durationS: r.duration_s, movingTimeS: r.moving_time_s, calories: r.calories,
      trusted: r.trusted, trustScore: r.trust_score, trustReasons: r.trust_reasons,
      route: { type: 'LineString', coordinates: cut.coordinates },
      bounds: others ? boundsOf(cut.coordinates) : { minLat: r.min_lat, maxLat: r.max_lat, minLng: r.min_lng, maxLng: r.max_lng },
      routeTrimmed: cut.trimmed, petIds: r.pet_ids ?? [], photos, createdAt: time.format(new Date(r.created_at)),
    };
  }

  // The fixes of either input form, in the worker's shape (unchecked: the worker checks them), and
  // how to name a fix's field in the client's own form.
  function fixesOf(input: WalkInput): { points: unknown[]; field: (workerField: string) => string } {
    if (input.points) return { points: input.points, field: (f) => f };
    const g = input.geojson!;
    const time = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : Number.NaN);
    const points = g.geometry.coordinates.map((c, i) => (Array.isArray(c)
      ? { lng: c[0], lat: c[1], t: time(g.properties.coordTimes[i]), ...(g.properties.accuracies ? { accuracy: g.properties.accuracies[i] } : {}) }
      : null));
    return {
      points,
      field: (f) => f.replace(/^points\[(\d+)\]\.t$/, 'geojson.properties.coordTimes[$1]').replace(/^points\[(\d+)\]\.(lat|lng)$/, 'geojson.geometry.coordinates[$1]')
        .replace(/^points\[(\d+)\]\.accuracy$/, 'geojson.properties.accuracies[$1]').replace(/^points\[(\d+)\]$/, 'geojson.geometry.coordinates[$1]')
        .replace(/^points$/, 'geojson.geometry.coordinates'),
    };
  }

  async function existing(db: Em, userId: string, clientWalkId: string): Promise<WalkRow | undefined> {
    const [r] = await db.execute<WalkRow[]>(`${WALK_SELECT} where w.user_id = ? and w.client_walk_id = ?`, [userId, clientWalkId]);
    return r;
  }

  // POST /walks. `created` is false for a retry of a walk already stored.
  async function record(userId: string, input: WalkInput): Promise<{ walk: WalkDto; created: boolean }> {
    const db = em.fork();
    const stored = await existing(db, userId, input.clientWalkId);
    if (stored) return { walk: toDto(stored, null), created: false };
    const track = fixesOf(input);
    const { field } = track;
    if (track.points.length > deps.limits.maxPoints) throw validationError([{ field: field('points'), message: `at most ${deps.limits.maxPoints} fixes`, in: 'body' }]);
    const analysed = await deps.pool.analyseTrack({ points: track.points as TrackPoint[], limits: deps.limits, routeToleranceM: ROUTE_TOLERANCE_M });
    if (!analysed.ok) throw validationError([{ field: field(analysed.error.field), message: analysed.error.message, in: 'body' }]);
    // Checked by the worker: every fix has finite coordinates and times in order.
    const points = track.points as TrackPoint[];
    const first = points[0].t;
    const last = points[points.length - 1].t;
    if (first < MIN_MS) throw validationError([{ field: field('points[0].t'), message: `is before ${CLIENT_DATE_RANGE.min}`, in: 'body' }]);
    if (last > clock.now().getTime() + FUTURE_SLACK_MS) throw validationError([{ field: field(`points[${points.length - 1}].t`), message: 'is in the future', in: 'body' }]);
    if (last - first > MAX_WALK_HOURS * 3600_000) throw validationError([{ field: field('points'), message: `a walk spans at most ${MAX_WALK_HOURS} hours`, in: 'body' }]);
    const weights = await deps.pets.ownedWeights(db, userId, input.petIds);
    const unknownPet = input.petIds.findIndex((id) => !weights.has(id));
    if (unknownPet >= 0) throw validationError([{ field: `petIds[${unknownPet}]`, message: 'is not one of your pets', in: 'body' }]);

    const trust = trustOf(analysed, deps.limits);
    const trusted = trust.reasons.length === 0;
    const startedAt = new Date(first);
    const endedAt = new Date(last);
    const localDate = calendar.localDate(startedAt);
    const localHour = Math.floor(calendar.minutesOfDay(startedAt) / 60);
    const route = analysed.route ?? [];
    const { analysis, reasonsJson } = { analysis: compactAnalysis(analysed), reasonsJson: JSON.stringify(trust.reasons) };
    const id = crypto.randomUUID();
    const uniquePets = [...new Set(input.petIds)];

    const outcome = await inTransaction(em.fork(), async (tx) => {
      // The profile row serialises one walker's walks, so the streak below sees every walk before it.
      const profile = await deps.profiles.ensure(tx, userId);
      await tx.execute(`select 1 from walk_profiles where user_id = ? for update`, [userId]);
      const inserted = await tx.execute<{ id: string }[]>(
        `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories, point_count, route,
           min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, trust_reasons, analysis)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)
         on conflict (user_id, client_walk_id) do nothing returning id`,
        [id, userId, input.clientWalkId, startedAt, endedAt, localDate, localHour, Math.round(analysed.distanceM), Math.round(analysed.durationS), Math.round(analysed.movingTimeS),
          caloriesOf(analysed.distanceM, uniquePets.map((p) => weights.get(p) ?? null)), points.length, JSON.stringify({ type: 'LineString', coordinates: route }),
          analysed.bounds.minLat, analysed.bounds.maxLat, analysed.bounds.minLng, analysed.bounds.maxLng, points[0].lat, points[0].lng, profile.region,
          trust.score, trusted, reasonsJson, JSON.stringify(analysis)]);
      // A concurrent retry of the same walk got here first: it did the work.
      if (!inserted.length) return null;
      for (const petId of uniquePets) await tx.execute(`insert into walk_walk_pets (walk_id, pet_id) values (?, ?)`, [id, petId]);
      const completed: CompletedWalk = {
        id, userId, startedAt, endedAt, localDate, localHour, distanceM: Math.round(analysed.distanceM), durationS: Math.round(analysed.durationS), trusted,
        region: profile.region, startLat: points[0].lat, startLng: points[0].lng, petIds: uniquePets,
      };
      if (trusted) await recomputeStreak(tx, userId);
      for (const hook of deps.onWalkComplete) await hook(tx, completed);
      onCommitted(tx, () => deps.onCommittedWalk?.(completed));
      return completed;
    });
    const row = (await existing(em.fork(), userId, input.clientWalkId))!;
    return { walk: toDto(row, null), created: outcome !== null };
  }

  // The streak from the walker's trusted days (gaps and islands): correct whatever order walks
  // arrive in (an offline phone uploads yesterday's walk after today's). `current` is the island
  // ending on the last walked day; whether it is still alive is decided when read (profiles.ts).
  async function recomputeStreak(tx: Em, userId: string): Promise<void> {
    await tx.execute(
      `with d as (select distinct local_date from walks where user_id = ? and trusted),
            g as (select local_date, local_date - (row_number() over (order by local_date))::int as island from d),
            i as (select max(local_date) as last_day, count(*)::int as len from g group by island)
       update walk_profiles set
         current_streak = coalesce((select len from i order by last_day desc limit 1), 0),
         longest_streak = coalesce((select max(len) from i), 0),
         last_walk_date = (select max(last_day) from i),
         updated_at = now()
       where user_id = ?`,
      [userId, userId]);
  }

  // Mine in full; someone else's only when trusted, with the route cut at their home zones.
  async function get(viewerId: string, walkId: string): Promise<WalkDto> {
    const db = em.fork();
    const [r] = await db.execute<WalkRow[]>(`${WALK_SELECT} where w.id = ?`, [walkId]);
    if (!r || (r.user_id !== viewerId && (!r.trusted || (await blockedEitherWay(db, viewerId, r.user_id))))) throw notFound('Walk');
    const zones = r.user_id === viewerId ? null : await deps.profiles.homeZonesOf(db, r.user_id);
    return toDto(r, zones, await photosOf(db, walkId, zones));
  }

  // Premium gate: a free walker's list and calendar reach back FREE_HISTORY_DAYS only.
  async function list(userId: string, opts: { limit: number; cursor?: string }): Promise<z.infer<typeof walkListDto>> {
    const after = opts.cursor ? listCursor.decode(opts.cursor) : null;
    const db = em.fork();
    const from = (await premiumFeatures(db, userId, clock.now())).historyFrom;
    const rows = await db.execute<WalkRow[]>(
      `${WALK_SELECT} where w.user_id = ? and w.started_at >= ?${after ? ' and (w.started_at, w.id) < (?, ?)' : ''} order by w.started_at desc, w.id desc limit ?`,
      after ? [userId, from ?? new Date(0), after.at, after.id, opts.limit + 1] : [userId, from ?? new Date(0), opts.limit + 1]);
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => {
        const { route: _route, photos: _photos, ...summary } = toDto(r, null);
        return summary;
      }),
      nextCursor: rows.length > opts.limit && last ? listCursor.encode({ at: new Date(last.started_at).toISOString(), id: last.id }) : null,
      historyFrom: from ? time.format(from) : null,
    };
  }

  // One KST month of my walks, day by day (days without a walk are left out).
  async function monthCalendar(userId: string, month: string): Promise<z.infer<typeof calendarDto>> {
    const db = em.fork();
    const from = (await premiumFeatures(db, userId, clock.now())).historyFrom;
    const rows = await db.execute<{ date: string; walks: string; trusted: string; distance: string; duration: string }[]>(
      `select to_char(local_date, 'YYYY-MM-DD') as date, count(*) as walks, count(*) filter (where trusted) as trusted, coalesce(sum(distance_m), 0) as distance, coalesce(sum(duration_s), 0) as duration
         from walks where user_id = ? and local_date >= ?::date and local_date < (?::date + interval '1 month') and started_at >= ? group by local_date order by local_date`,
      [userId, `${month}-01`, `${month}-01`, from ?? new Date(0)]);
    return {
      month, days: rows.map((r) => ({ date: r.date, walks: Number(r.walks), trustedWalks: Number(r.trusted), distanceM: Number(r.distance), durationS: Number(r.duration) })),
      historyFrom: from ? time.format(from) : null,
    };
  }

  // Totals of my walks in the current KST week (from Monday), month, year, or all time. Distance and
  // calories count trusted walks; `walks` counts every walk.
  async function stats(userId: string, period: 'week' | 'month' | 'year' | 'all'): Promise<z.infer<typeof statsDto>> {
    const now = clock.now();
    const range = period === 'all' ? null
      : period === 'year' ? { from: `${calendar.localDate(now).slice(0, 4)}-01-01`, to: `${Number(calendar.localDate(now).slice(0, 4)) + 1}-01-01` }
      : (() => {
        const i = calendar.period(period, now);
        return { from: calendar.localDate(i.start), to: calendar.localDate(i.end) };
      })();
    const [r] = await em.fork().execute<Record<string, string | null>[]>(
      `select count(*) as walks, count(*) filter (where trusted) as trusted,
              coalesce(sum(distance_m) filter (where trusted), 0) as distance, coalesce(sum(duration_s) filter (where trusted), 0) as duration,
              coalesce(sum(calories) filter (where trusted), 0) as calories, coalesce(max(distance_m) filter (where trusted), 0) as longest
         from walks where user_id = ?${range ? ' and local_date >= ?::date and local_date < ?::date' : ''}`,
      range ? [userId, range.from, range.to] : [userId]);
    const trustedWalks = Number(r.trusted);
    return {
      period, from: range?.from ?? null, to: range?.to ?? null, walks: Number(r.walks), trustedWalks, distanceM: Number(r.distance), durationS: Number(r.duration),
      calories: Number(r.calories), averageDistanceM: trustedWalks ? Math.round(Number(r.distance) / trustedWalks) : 0, longestWalkM: Number(r.longest),
    };
  }

  // A photo of the walk, with where and when it was taken (optional): checked and re-encoded by the
  // image worker, stored under a random key; at most MAX_PHOTOS_PER_WALK.
  async function addPhoto(userId: string, walkId: string, bytes: Buffer, meta: { lat?: number; lng?: number; takenAt?: Date }): Promise<z.infer<typeof photoDto>> {
    const db = em.fork();
    const [w] = await db.execute<{ user_id: string }[]>(`select user_id from walks where id = ?`, [walkId]);
    if (!w || w.user_id !== userId) throw notFound('Walk');
    const image = await acceptImage(deps.pool, { bytes, aspect: { w: 3, h: 4 }, format: 'webp', limits: { maxBytes: 10 * 1024 * 1024 } });
    const key = newObjectKey(`walk/walks/${walkId}`, 'webp');
    await storage.put(key, image.image, { contentType: 'image/webp' });
    try {
      const photoId = await inTransaction(em.fork(), async (tx) => {
        await tx.execute(`select id from walks where id = ? for update`, [walkId]);
        const [{ n }] = await tx.execute<{ n: string }[]>(`select count(*) as n from walk_photos where walk_id = ?`, [walkId]);
        if (Number(n) >= MAX_PHOTOS_PER_WALK) throw new AppError(409, 'too_many_photos', `A walk has at most ${MAX_PHOTOS_PER_WALK} photos`);
        const pid = crypto.randomUUID();
        await tx.execute(`insert into walk_photos (id, walk_id, storage_key, lat, lng, taken_at, width, height) values (?, ?, ?, ?, ?, ?, ?, ?)`,
          [pid, walkId, key, meta.lat ?? null, meta.lng ?? null, meta.takenAt ?? null, image.width, image.height]);
        return pid;
      });
      deps.onPhotoAdded?.(userId);
      return (await photosOf(em.fork(), walkId, null)).find((p) => p.id === photoId)!;
    } catch (err) {
      await storage.delete(key).catch(() => undefined);
      throw err;
    }
  }

  return { record, get, list, monthCalendar, stats, addPhoto, recomputeStreak };
}

// What is kept of the worker's analysis with the walk (its lists are already capped by the worker).
function compactAnalysis(a: TrackAnalysis) {
  return {
    pointCount: a.pointCount, avgSpeedKmh: a.avgSpeedKmh, maxSpeedKmh: a.maxSpeedKmh, fastShare: a.fastShare, fastSegmentCount: a.fastSegmentCount,
    jumpCount: a.jumpCount, glitchCount: a.glitchCount, jumps: a.jumps.slice(0, 10), spoofing: a.spoofing, verdict: a.verdict,
  };
}

export type WalkService = ReturnType<typeof createWalkService>;
