// Outside data for a walk (seed 003 날씨·미세먼지·주변 동물병원): the weather (KMA) and air (AirKorea) of
// the walker's region with a walking index, and animal hospitals near a point (Kakao Local).
//
// Weather and air are fetched only by the hourly walk-outside-refresh cron and cached per sido
// (services/walk/regions.ts) in walk_outside_cache; a request reads the cache and never waits on a
// provider. A refresh that fails keeps the last good value and records the failure beside it, so a
// provider that is down answers 'unavailable' with the last value and its age — never a 5xx.
// Animal hospitals are cached in walk_vets and looked up by earthdistance; a request refreshes its
// area from Kakao (one call, with a timeout) when the area's last search is older than a day.
import type { Logger } from 'pino';
import { z } from 'zod';
import { ProviderError } from '../../integrations/http.ts';
import { createAirKoreaClient, type AirClient, type AirNow } from '../../integrations/weather/airkorea.ts';
import { createKmaClient, type WeatherClient, type WeatherNow } from '../../integrations/weather/kma.ts';
import { createKakaoLocalClient, type PlacesClient } from '../../integrations/places/kakaoLocal.ts';
import { badRequest } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import { matchRegion, type Region } from './regions.ts';
import { pgArray } from '../pgArray.ts';

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
// The cron runs hourly: a value older than two runs has missed one refresh at least.
export const OUTSIDE_FRESH_MS = 2 * HOUR_MS;
// Regions of users who walked this recently are refreshed.
export const ACTIVE_WALKER_DAYS = 14;
export const VET_AREA_TTL_MS = DAY_MS;
export const MAX_VET_RADIUS_M = 2000;
// A vet search covers a 0.005° cell (about 550 × 450 m); a search from the cell's centre reaching
// radiusM + VET_CELL_REACH_M covers a circle of radiusM around any point in it.
const VET_CELL_DEG = 0.005;
const VET_CELL_REACH_M = 400;
const MAX_VETS = 50;
export const NOT_CONFIGURED = 'not configured';

// ---- What the routes answer ----

const outsideStatus = z.enum(['fresh', 'stale', 'unavailable']);
const weatherDto = z.object({
  source: z.literal('kma'),
  baseDate: z.string(), baseTime: z.string(), nx: z.number().int(), ny: z.number().int(),
  forecastAt: z.string().meta({ description: 'The forecast hour these values are for (KST)' }),
  temperatureC: z.number().nullable(),
  precipitationProbability: z.number().nullable().meta({ description: '%' }),
  precipitationType: z.enum(['none', 'rain', 'rain_snow', 'snow', 'shower']).nullable(),
  sky: z.enum(['clear', 'mostly_cloudy', 'overcast']).nullable(),
  humidity: z.number().nullable(),
  windMs: z.number().nullable(),
}).meta({ id: 'WalkWeather' });
const airDto = z.object({
  source: z.literal('airkorea'),
  sidoName: z.string(),
  station: z.string().nullable().meta({ description: 'null: the mean of the sido\'s stations' }),
  dataTime: z.string().nullable(),
  pm10: z.number().nullable().meta({ description: 'µg/m³' }),
  pm25: z.number().nullable().meta({ description: 'µg/m³' }),
  khaiGrade: z.number().nullable().meta({ description: '1 좋음 · 2 보통 · 3 나쁨 · 4 매우나쁨' }),
  stations: z.number().int(),
}).meta({ id: 'WalkAir' });
const reasonDto = z.object({ code: z.string(), message: z.string() });
export const walkingIndexDto = z.object({
  score: z.number().int().min(0).max(100).nullable().meta({ description: 'null without any data' }),
  grade: z.enum(['good', 'fair', 'caution', 'bad', 'unknown']),
  reasons: z.array(reasonDto),
}).meta({ id: 'WalkingIndex' });
const sourceDto = z.object({
  status: outsideStatus,
  asOf: z.string().nullable(),
  ageSeconds: z.number().int().nullable(),
  reason: z.string().optional(),
});
export const outsideDto = z.object({
  region: z.string().meta({ description: 'The sido the data is for (서울, 경기, …)' }),
  weather: weatherDto.nullable(),
  air: airDto.nullable(),
  walkingIndex: walkingIndexDto,
  status: outsideStatus.meta({ description: 'The worse of weather and air: unavailable when its last refresh failed, it was never fetched or its provider is not configured; stale when older than 2 h' }),
  asOf: z.string().nullable().meta({ description: 'When the older of the values shown was fetched' }),
  ageSeconds: z.number().int().nullable(),
  reason: z.string().optional(),
  sources: z.object({ weather: sourceDto, air: sourceDto }),
}).meta({ id: 'WalkOutside' });
export type OutsideDto = z.infer<typeof outsideDto>;

export const vetDto = z.object({
  id: z.string(), name: z.string(), address: z.string(), phone: z.string(),
  lat: z.number(), lng: z.number(), distanceM: z.number().int(),
}).meta({ id: 'WalkVet' });
export const vetsDto = z.object({
  items: z.array(vetDto).meta({ description: 'Nearest first, at most 50' }),
  status: z.enum(['fresh', 'unavailable']),
  asOf: z.string().nullable().meta({ description: 'When this area was last searched' }),
  ageSeconds: z.number().int().nullable(),
  reason: z.string().optional(),
}).meta({ id: 'WalkVetsNearby' });
export type VetsDto = z.infer<typeof vetsDto>;

// ---- The walking index ----

// 100 minus penalties, clamped to 0..100; grade good ≥ 80, fair ≥ 60, caution ≥ 40, else bad.
// - heat: 5 a degree above 22 °C (max 60): pavement burns paws and dogs overheat early;
// - cold: 3 a degree below 0 °C (max 45);
// - precipitation: 40 while it rains or snows (PTY ≠ 0), else 15 at POP ≥ 60 %, 5 at POP ≥ 30 %;
// - wind: 25 above 9 m/s, 10 above 6 m/s;
// - air: the worse of PM10 and PM2.5 by the Korean grades (PM10 ≤30 good, ≤80 normal, ≤150 bad;
//   PM2.5 ≤15, ≤35, ≤75): normal 5, bad 30, very bad 50. Not both: the two move together.
// Missing inputs cost nothing but are named in the reasons.
export function walkingIndex(weather: WeatherNow | null, air: AirNow | null): z.infer<typeof walkingIndexDto> {
  const reasons: { code: string; message: string }[] = [];
  if (!weather && !air) return { score: null, grade: 'unknown', reasons: [{ code: 'no_data', message: 'No weather or air data yet' }] };
  let penalty = 0;
  const add = (p: number, code: string, message: string) => {
    if (p <= 0) return;
    penalty += p;
    reasons.push({ code, message });
  };
  if (weather) {
    const t = weather.temperatureC;
    if (t !== null && t > 22) add(Math.min(60, (t - 22) * 5), 'hot', `${t} °C: hot pavement can burn paws; walk early or late and bring water`);
    if (t !== null && t < 0) add(Math.min(45, -t * 3), 'cold', `${t} °C: keep it short and protect paws from ice and de-icing salt`);
    if (weather.precipitationType && weather.precipitationType !== 'none') add(40, 'precipitation', `Precipitation now (${weather.precipitationType})`);
    else if ((weather.precipitationProbability ?? 0) >= 60) add(15, 'rain_likely', `${weather.precipitationProbability}% chance of rain`);
    else if ((weather.precipitationProbability ?? 0) >= 30) add(5, 'rain_possible', `${weather.precipitationProbability}% chance of rain`);
    const w = weather.windMs;
    if (w !== null && w > 9) add(25, 'windy', `Strong wind, ${w} m/s`);
    else if (w !== null && w > 6) add(10, 'breezy', `Wind ${w} m/s`);
  } else reasons.push({ code: 'no_weather', message: 'Weather unknown: the index counts air only' });
  if (air) {
    const pm10 = air.pm10, pm25 = air.pm25;
    const grade10 = pm10 === null ? 0 : pm10 > 150 ? 3 : pm10 > 80 ? 2 : pm10 > 30 ? 1 : 0;
    const grade25 = pm25 === null ? 0 : pm25 > 75 ? 3 : pm25 > 35 ? 2 : pm25 > 15 ? 1 : 0;
    const g = Math.max(grade10, grade25);
    const what = `PM10 ${pm10 ?? '–'}, PM2.5 ${pm25 ?? '–'} µg/m³`;
    if (g === 3) add(50, 'air_very_bad', `${what}: very bad air, skip the walk or keep it very short`);
    else if (g === 2) add(30, 'air_bad', `${what}: bad air, keep it short`);
    else if (g === 1) add(5, 'air_normal', `${what}: moderate air`);
  } else reasons.push({ code: 'no_air', message: 'Air quality unknown: the index counts weather only' });
  const score = Math.max(0, Math.min(100, Math.round(100 - penalty)));
  const grade = score >= 80 ? 'good' : score >= 60 ? 'fair' : score >= 40 ? 'caution' : 'bad';
  return { score, grade, reasons };
}

// ---- Drivers from configuration ----

export type OutsideProviders = { weather: WeatherClient | null; air: AirClient | null; places: PlacesClient | null };

// The real clients where their keys are set; without a key the driver is offline and everything it
// would answer is 'unavailable: not configured' (no fake data pretending to be weather).
export function outsideProviders(config: {
  KMA_SERVICE_KEY?: string; KMA_BASE_URL: string; AIRKOREA_SERVICE_KEY?: string; AIRKOREA_BASE_URL: string;
  KAKAO_REST_API_KEY?: string; KAKAO_LOCAL_BASE_URL: string; WALK_OUTSIDE_TIMEOUT_MS: number;
}): OutsideProviders {
  const timeoutMs = config.WALK_OUTSIDE_TIMEOUT_MS;
  return {
    weather: config.KMA_SERVICE_KEY ? createKmaClient({ serviceKey: config.KMA_SERVICE_KEY, baseUrl: config.KMA_BASE_URL, timeoutMs }) : null,
    air: config.AIRKOREA_SERVICE_KEY ? createAirKoreaClient({ serviceKey: config.AIRKOREA_SERVICE_KEY, baseUrl: config.AIRKOREA_BASE_URL, timeoutMs }) : null,
    // On a request's path: one attempt, bounded by the timeout.
    places: config.KAKAO_REST_API_KEY ? createKakaoLocalClient({ restApiKey: config.KAKAO_REST_API_KEY, baseUrl: config.KAKAO_LOCAL_BASE_URL, timeoutMs, retries: 0 }) : null,
  };
}

// What we keep of a failure: the provider and its error code, never a raw message or stack.
function failureReason(err: unknown): string {
  if (err instanceof ProviderError) {
    const code = (err as { code?: unknown }).code;
    return `${err.service}: ${typeof code === 'string' ? code : err.status ? `HTTP ${err.status}` : 'error'}`.slice(0, 200);
  }
  return 'unexpected error';
}

type Kind = 'weather' | 'air';
type CacheRow = { region: string; kind: Kind; payload: unknown; fetched_at: Date | null; error: string | null; error_at: Date | null };
type VetRow = { id: string; name: string; address: string; phone: string; lat: number; lng: number; distance_m: number };
type AreaRow = { cell: string; radius_m: number; fetched_at: Date | null; error: string | null; error_at: Date | null };

export function createOutsideService(deps: { em: Em; clock: Clock; time: TimeFormatter; logger: Logger; providers: OutsideProviders }) {
  const { em, clock, time, logger, providers } = deps;

  // ---- The hourly refresh ----

  async function activeRegions(db: Em): Promise<Region[]> {
    const since = new Date(clock.now().getTime() - ACTIVE_WALKER_DAYS * DAY_MS);
    const rows = await db.execute<{ region: string }[]>(
      `select distinct p.region from walk_profiles p
        where p.region is not null and exists (select 1 from walks w where w.user_id = p.user_id and w.started_at >= ?)`,
      [since],
    );
    const byKey = new Map<string, Region>();
    for (const r of rows) {
      const region = matchRegion(r.region);
      if (region) byKey.set(region.key, region);
    }
    return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  async function recordSuccess(db: Em, region: string, kind: Kind, payload: unknown, at: Date): Promise<void> {
    await db.execute(
      `insert into walk_outside_cache (region, kind, payload, fetched_at, error, error_at) values (?, ?, ?::jsonb, ?, null, null)
       on conflict (region, kind) do update set payload = excluded.payload, fetched_at = excluded.fetched_at, error = null, error_at = null`,
      [region, kind, JSON.stringify(payload), at],
    );
  }
  // The failure beside the last good value, which stays.
  async function recordFailure(db: Em, region: string, kind: Kind, reason: string, at: Date): Promise<void> {
    await db.execute(
      `insert into walk_outside_cache (region, kind, error, error_at) values (?, ?, ?, ?)
       on conflict (region, kind) do update set error = excluded.error, error_at = excluded.error_at`,
      [region, kind, reason, at],
    );
  }

  async function refreshOne(db: Em, region: Region, kind: Kind, now: Date): Promise<boolean> {
    const fetchIt = kind === 'weather'
      ? providers.weather && (() => providers.weather!.forecast({ lat: region.lat, lng: region.lng }, now))
      : providers.air && (() => providers.air!.sido(region.sidoName));
    if (!fetchIt) {
      await recordFailure(db, region.key, kind, NOT_CONFIGURED, now);
      return false;
    }
    try {
      await recordSuccess(db, region.key, kind, await fetchIt(), clock.now());
      return true;
    } catch (err) {
      logger.warn({ err, region: region.key, kind }, 'outside data not refreshed');
      await recordFailure(db, region.key, kind, failureReason(err), clock.now());
      return false;
    }
  }

  // Weather and air of every region with a walker active in the last 14 days.
  async function refresh(opts: { signal?: AbortSignal } = {}): Promise<{ regions: number; refreshed: number; failed: number }> {
    const db = em.fork();
    const regions = await activeRegions(db);
    let refreshed = 0, failed = 0;
    for (const region of regions) {
      if (opts.signal?.aborted) break;
      const now = clock.now();
      const results = await Promise.all((['weather', 'air'] as const).map((kind) => refreshOne(db, region, kind, now)));
      for (const ok of results) ok ? refreshed++ : failed++;
    }
    return { regions: regions.length, refreshed, failed };
  }

  // ---- Reading ----

  // When a cached value was fetched, and how old it is now: what every answer from the cache carries.
  const freshness = (fetchedAt: Date | null, now: Date) => ({
    asOf: fetchedAt ? time.format(fetchedAt) : null,
    ageSeconds: fetchedAt ? Math.max(0, Math.floor((now.getTime() - fetchedAt.getTime()) / 1000)) : null,
  });

  type Source = z.infer<typeof sourceDto>;
  function sourceOf(row: CacheRow | undefined, configured: boolean, now: Date): Source {
    const fetchedAt = row?.fetched_at ? new Date(row.fetched_at) : null;
    const base = freshness(fetchedAt, now);
    if (!configured) return { status: 'unavailable' as const, ...base, reason: NOT_CONFIGURED };
    if (!row || !fetchedAt) return { status: 'unavailable' as const, ...base, reason: row?.error ?? 'not fetched yet' };
    if (row.error_at && new Date(row.error_at).getTime() >= fetchedAt.getTime()) return { status: 'unavailable' as const, ...base, reason: row.error ?? 'last refresh failed' };
    if (now.getTime() - fetchedAt.getTime() > OUTSIDE_FRESH_MS) return { status: 'stale' as const, ...base, reason: 'not refreshed for over 2 hours' };
    return { status: 'fresh' as const, ...base };
  }

  const RANK = { fresh: 0, stale: 1, unavailable: 2 } as const;

  // GET /walk/outside: the region asked for, else the caller's profile region.
  async function current(userId: string, regionText?: string): Promise<OutsideDto> {
    const db = em.fork();
    let region: Region | null;
    if (regionText !== undefined) {
      region = matchRegion(regionText);
      if (!region) throw badRequest('unknown_region', 'Name a Korean sido first, e.g. "서울 마포구"', 'region');
    } else {
      const [p] = await db.execute<{ region: string | null }[]>('select region from walk_profiles where user_id = ?', [userId]);
      if (!p?.region) throw badRequest('no_region', 'Set a region on your walk profile or pass region', 'region');
      region = matchRegion(p.region);
      if (!region) throw badRequest('unknown_region', 'Your profile region names no Korean sido; pass region', 'region');
    }
    const rows = await db.execute<CacheRow[]>('select region, kind, payload, fetched_at, error, error_at from walk_outside_cache where region = ?', [region.key]);
    const now = clock.now();
    const weatherRow = rows.find((r) => r.kind === 'weather');
    const airRow = rows.find((r) => r.kind === 'air');
    const sources = { weather: sourceOf(weatherRow, providers.weather !== null, now), air: sourceOf(airRow, providers.air !== null, now) };
    const weather = (weatherRow?.payload ?? null) as WeatherNow | null;
    const air = (airRow?.payload ?? null) as AirNow | null;
    const worst = RANK[sources.weather.status] >= RANK[sources.air.status] ? sources.weather.status : sources.air.status;
    const ages = [sources.weather, sources.air].filter((s) => s.ageSeconds !== null);
    const oldest = ages.sort((a, b) => b.ageSeconds! - a.ageSeconds!)[0];
    const reasons = (['weather', 'air'] as const).flatMap((k) => (sources[k].reason ? [`${k}: ${sources[k].reason}`] : []));
    return {
      region: region.key, weather, air,
      walkingIndex: walkingIndex(weather, air),
      status: worst,
      asOf: oldest?.asOf ?? null,
      ageSeconds: oldest?.ageSeconds ?? null,
      ...(reasons.length ? { reason: reasons.join('; ') } : {}),
      sources,
    };
  }

  // ---- Animal hospitals ----

  async function refreshArea(db: Em, cell: string, center: { lat: number; lng: number }, radiusM: number): Promise<void> {
    const found = await providers.places!.animalHospitals({ ...center, radiusM });
    const at = clock.now();
    for (const p of found.places) {
      await db.execute(
        `insert into walk_vets (id, name, address, phone, lat, lng, fetched_at) values (?, ?, ?, ?, ?, ?, ?)
         on conflict (id) do update set name = excluded.name, address = excluded.address, phone = excluded.phone, lat = excluded.lat, lng = excluded.lng, fetched_at = excluded.fetched_at`,
        [p.id.slice(0, 64), p.name.slice(0, 200), p.address.slice(0, 300), p.phone.slice(0, 50), p.lat, p.lng, at],
      );
    }
    // A complete answer is the truth for its circle: a clinic it no longer lists has closed or moved.
    if (found.complete) {
      const ids = found.places.map((p) => p.id.slice(0, 64)); // as stored above
      await db.execute(
        `delete from walk_vets where earth_box(ll_to_earth(?, ?), ?) @> ll_to_earth(lat, lng)
           and earth_distance(ll_to_earth(?, ?), ll_to_earth(lat, lng)) <= ? and not (id = any(?::text[]))`,
        [center.lat, center.lng, radiusM, center.lat, center.lng, radiusM, pgArray(ids)],
      );
    }
    await db.execute(
      `insert into walk_vet_areas (cell, radius_m, fetched_at, error, error_at) values (?, ?, ?, null, null)
       on conflict (cell) do update set radius_m = excluded.radius_m, fetched_at = excluded.fetched_at, error = null, error_at = null`,
      [cell, radiusM, at],
    );
  }

  // GET /walk/vets/nearby: cached animal hospitals within radiusM, nearest first; the area is
  // searched again at Kakao when its last search is a day old or did not reach this far.
  async function nearbyVets(q: { lat: number; lng: number; radiusM: number }): Promise<VetsDto> {
    const db = em.fork();
    const ci = Math.round(q.lat / VET_CELL_DEG), cj = Math.round(q.lng / VET_CELL_DEG);
    const cell = `${ci}:${cj}`;
    const center = { lat: Number((ci * VET_CELL_DEG).toFixed(6)), lng: Number((cj * VET_CELL_DEG).toFixed(6)) };
    const reach = q.radiusM + VET_CELL_REACH_M;
    let [area] = await db.execute<AreaRow[]>('select cell, radius_m, fetched_at, error, error_at from walk_vet_areas where cell = ?', [cell]);
    let status: 'fresh' | 'unavailable' = 'fresh';
    let reason: string | undefined;
    const due = !area?.fetched_at || clock.now().getTime() - new Date(area.fetched_at).getTime() > VET_AREA_TTL_MS || area.radius_m < reach;
    if (!providers.places) {
      status = 'unavailable';
      reason = NOT_CONFIGURED;
    } else if (due) {
      try {
        await refreshArea(db, cell, center, reach);
      } catch (err) {
        logger.warn({ err, cell }, 'animal hospitals not refreshed');
        status = 'unavailable';
        reason = failureReason(err);
        await db.execute(
          `insert into walk_vet_areas (cell, error, error_at) values (?, ?, ?) on conflict (cell) do update set error = excluded.error, error_at = excluded.error_at`,
          [cell, reason, clock.now()],
        );
      }
      [area] = await db.execute<AreaRow[]>('select cell, radius_m, fetched_at, error, error_at from walk_vet_areas where cell = ?', [cell]);
    }
    const rows = await db.execute<VetRow[]>(
      `select id, name, address, phone, lat, lng, earth_distance(ll_to_earth(?, ?), ll_to_earth(lat, lng)) as distance_m
         from walk_vets
        where earth_box(ll_to_earth(?, ?), ?) @> ll_to_earth(lat, lng)
          and earth_distance(ll_to_earth(?, ?), ll_to_earth(lat, lng)) <= ?
        order by distance_m, id limit ${MAX_VETS}`,
      [q.lat, q.lng, q.lat, q.lng, q.radiusM, q.lat, q.lng, q.radiusM],
    );
    const fetchedAt = area?.fetched_at ? new Date(area.fetched_at) : null;
    return {
      items: rows.map((r) => ({ id: r.id, name: r.name, address: r.address, phone: r.phone, lat: Number(r.lat), lng: Number(r.lng), distanceM: Math.round(Number(r.distance_m)) })),
      status,
      ...freshness(fetchedAt, clock.now()),
      ...(reason ? { reason } : {}),
    };
  }

  return { refresh, current, nearbyVets, activeRegions: () => activeRegions(em.fork()) };
}

export type OutsideService = ReturnType<typeof createOutsideService>;
