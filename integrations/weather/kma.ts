// 기상청 단기예보 (KMA short-term forecast) through 공공데이터포털: VilageFcstInfoService_2.0/getVilageFcst
// with serviceKey, dataType=JSON, base_date/base_time (the issue: 02, 05, 08, 11, 14, 17, 20, 23 h KST)
// and the forecast grid cell nx/ny. Each item is one category of one forecast hour:
// TMP temperature °C, POP precipitation probability %, PTY precipitation type, SKY sky, REH humidity %,
// WSD wind m/s. We keep the forecast for the hour we are in (else the first hour the issue has).
import { decodeServiceKey, getDataGoKr } from './dataGoKr.ts';
import { ProviderCallError } from '../http.ts';

export type PrecipitationType = 'none' | 'rain' | 'rain_snow' | 'snow' | 'shower';
export type Sky = 'clear' | 'mostly_cloudy' | 'overcast';

export type WeatherNow = {
  source: 'kma';
  baseDate: string;
  baseTime: string;
  nx: number;
  ny: number;
  // The forecast hour these values are for, ISO 8601 in KST.
  forecastAt: string;
  temperatureC: number | null;
  precipitationProbability: number | null;
  precipitationType: PrecipitationType | null;
  sky: Sky | null;
  humidity: number | null;
  windMs: number | null;
};

export type WeatherClient = { forecast: (at: { lat: number; lng: number }, now: Date) => Promise<WeatherNow> };

// KMA's documented Lambert conformal conic projection of its 5 km forecast grid (동네예보 격자):
// earth radius 6371.00877 km, grid 5 km, standard parallels 30° and 60°, origin 38°N 126°E at grid
// (43, 136). Seoul City Hall (37.5665, 126.9780) is cell (60, 127).
export function toKmaGrid(lat: number, lng: number): { nx: number; ny: number } {
  const RE = 6371.00877, GRID = 5.0, SLAT1 = 30.0, SLAT2 = 60.0, OLON = 126.0, OLAT = 38.0, XO = 43, YO = 136;
  const DEGRAD = Math.PI / 180.0;
  const re = RE / GRID;
  const slat1 = SLAT1 * DEGRAD, slat2 = SLAT2 * DEGRAD, olon = OLON * DEGRAD, olat = OLAT * DEGRAD;
  let sn = Math.tan(Math.PI * 0.25 + slat2 * 0.5) / Math.tan(Math.PI * 0.25 + slat1 * 0.5);
  sn = Math.log(Math.cos(slat1) / Math.cos(slat2)) / Math.log(sn);
  let sf = Math.tan(Math.PI * 0.25 + slat1 * 0.5);
  sf = (Math.pow(sf, sn) * Math.cos(slat1)) / sn;
  let ro = Math.tan(Math.PI * 0.25 + olat * 0.5);
  ro = (re * sf) / Math.pow(ro, sn);
  let ra = Math.tan(Math.PI * 0.25 + lat * DEGRAD * 0.5);
  ra = (re * sf) / Math.pow(ra, sn);
  let theta = lng * DEGRAD - olon;
  if (theta > Math.PI) theta -= 2.0 * Math.PI;
  if (theta < -Math.PI) theta += 2.0 * Math.PI;
  theta *= sn;
  return { nx: Math.floor(ra * Math.sin(theta) + XO + 0.5), ny: Math.floor(ro - ra * Math.cos(theta) + YO + 0.5) };
}

const KST_MS = 9 * 3600_000; // Korea keeps no daylight saving time.
const ISSUE_HOURS = [2, 5, 8, 11, 14, 17, 20, 23];
// An issue is published about ten minutes after its hour.
const PUBLISH_DELAY_MS = 10 * 60_000;

const ymd = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');

// The newest issue already published at `now`: base_date YYYYMMDD and base_time HHmm, in KST.
export function kmaBaseTime(now: Date): { baseDate: string; baseTime: string } {
  const kst = new Date(now.getTime() + KST_MS - PUBLISH_DELAY_MS);
  const hour = kst.getUTCHours();
  const issue = [...ISSUE_HOURS].reverse().find((h) => h <= hour);
  if (issue === undefined) return { baseDate: ymd(new Date(kst.getTime() - 24 * 3600_000)), baseTime: '2300' };
  return { baseDate: ymd(kst), baseTime: `${String(issue).padStart(2, '0')}00` };
}

const PTY: Record<string, PrecipitationType> = { '0': 'none', '1': 'rain', '2': 'rain_snow', '3': 'snow', '4': 'shower' };
const SKY: Record<string, Sky> = { '1': 'clear', '3': 'mostly_cloudy', '4': 'overcast' };

type Item = { category?: unknown; fcstDate?: unknown; fcstTime?: unknown; fcstValue?: unknown };

const num = (v: string | undefined): number | null => {
  if (v === undefined) return null;
  const n = Number(v);
  // KMA marks a missing value with -999 / 900 and above.
  return Number.isFinite(n) && n > -900 && n < 900 ? n : null;
};

// The forecast hour at or after `now` (the current hour, KST) from getVilageFcst's items.
export function parseVilageFcst(body: unknown, now: Date, grid: { nx: number; ny: number }, base: { baseDate: string; baseTime: string }): WeatherNow {
  const raw = (body as { items?: { item?: unknown } } | undefined)?.items?.item;
  if (!Array.isArray(raw)) throw new ProviderCallError('kma', 'invalid_response', 'getVilageFcst answered no items', { retryable: false });
  const hours = new Map<string, Map<string, string>>();
  for (const it of raw as Item[]) {
    if (typeof it.category !== 'string' || typeof it.fcstDate !== 'string' || typeof it.fcstTime !== 'string') continue;
    const key = `${it.fcstDate}${it.fcstTime}`;
    if (!/^\d{12}$/.test(key)) continue;
    const values = hours.get(key) ?? new Map<string, string>();
    values.set(it.category, String(it.fcstValue));
    hours.set(key, values);
  }
  if (hours.size === 0) throw new ProviderCallError('kma', 'invalid_response', 'getVilageFcst answered no forecast hours', { retryable: false });
  const kst = new Date(now.getTime() + KST_MS);
  const currentHour = `${ymd(kst)}${String(kst.getUTCHours()).padStart(2, '0')}00`;
  const keys = [...hours.keys()].sort();
  const key = keys.find((k) => k >= currentHour) ?? keys[keys.length - 1];
  const v = hours.get(key)!;
  const forecastAt = `${key.slice(0, 4)}-${key.slice(4, 6)}-${key.slice(6, 8)}T${key.slice(8, 10)}:${key.slice(10, 12)}:00+09:00`;
  return {
    source: 'kma', ...base, ...grid, forecastAt,
    temperatureC: num(v.get('TMP')),
    precipitationProbability: num(v.get('POP')),
    precipitationType: PTY[v.get('PTY') ?? ''] ?? null,
    sky: SKY[v.get('SKY') ?? ''] ?? null,
    humidity: num(v.get('REH')),
    windMs: num(v.get('WSD')),
  };
}

export function createKmaClient(opts: { serviceKey: string; baseUrl: string; timeoutMs: number; retries?: number }): WeatherClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const serviceKey = decodeServiceKey(opts.serviceKey);
  return {
    forecast: async ({ lat, lng }, now) => {
      const grid = toKmaGrid(lat, lng);
      const issue = kmaBaseTime(now);
      // 12 categories an hour: 100 rows reach well past the next hour.
      const qs = new URLSearchParams({
        serviceKey, pageNo: '1', numOfRows: '100', dataType: 'JSON',
        base_date: issue.baseDate, base_time: issue.baseTime, nx: String(grid.nx), ny: String(grid.ny),
      });
      const body = await getDataGoKr(`${base}/getVilageFcst?${qs}`, { service: 'kma', timeoutMs: opts.timeoutMs, retries: opts.retries ?? 2 });
      return parseVilageFcst(body, now, grid, issue);
    },
  };
}
