// 에어코리아 (AirKorea, 한국환경공단) real-time air quality through 공공데이터포털:
// ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty (every station of one sido: sidoName 서울, 부산, …)
// with serviceKey, returnType=json, ver=1.0. Its items are an array directly under body (unlike
// KMA's items.item); values are strings, '-' when a station did not measure (오류·점검).
import { decodeServiceKey, getDataGoKr } from './dataGoKr.ts';
import { ProviderCallError } from '../http.ts';

export type AirNow = {
  source: 'airkorea';
  sidoName: string;
  // The station whose name matches the region's district ('마포구'), else null: the sido's mean.
  station: string | null;
  // Measured hour, as AirKorea writes it (KST): '2026-11-27 18:00'.
  dataTime: string | null;
  pm10: number | null;
  pm25: number | null;
  // 통합대기환경지수 grade: 1 좋음, 2 보통, 3 나쁨, 4 매우나쁨.
  khaiGrade: number | null;
  stations: number;
};

export type AirClient = { sido: (sidoName: string, district?: string) => Promise<AirNow> };

type Item = { stationName?: unknown; dataTime?: unknown; pm10Value?: unknown; pm25Value?: unknown; khaiGrade?: unknown };

const value = (v: unknown): number | null => {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const n = Number(v);
  return v !== '' && Number.isFinite(n) && n >= 0 ? n : null;
};
const mean = (xs: (number | null)[]): number | null => {
  const ok = xs.filter((x): x is number => x !== null);
  return ok.length ? Math.round(ok.reduce((a, b) => a + b, 0) / ok.length) : null;
};

// One station when the district names one (AirKorea names most city stations after their 구), else
// the mean of the sido's stations that measured: a sido-wide figure, documented as such.
export function parseCtprvnRltm(body: unknown, sidoName: string, district?: string): AirNow {
  const items = (body as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) throw new ProviderCallError('airkorea', 'invalid_response', 'getCtprvnRltmMesureDnsty answered no items', { retryable: false });
  const rows = (items as Item[]).map((i) => ({
    station: typeof i.stationName === 'string' ? i.stationName : '',
    dataTime: typeof i.dataTime === 'string' ? i.dataTime : null,
    pm10: value(i.pm10Value), pm25: value(i.pm25Value), khai: value(i.khaiGrade),
  }));
  const own = district ? rows.find((r) => r.station === district && (r.pm10 !== null || r.pm25 !== null)) : undefined;
  if (own) return { source: 'airkorea', sidoName, station: own.station, dataTime: own.dataTime, pm10: own.pm10, pm25: own.pm25, khaiGrade: own.khai, stations: 1 };
  const measured = rows.filter((r) => r.pm10 !== null || r.pm25 !== null);
  const dataTime = measured.map((r) => r.dataTime).filter((t): t is string => t !== null).sort().at(-1) ?? null;
  return {
    source: 'airkorea', sidoName, station: null, dataTime,
    pm10: mean(measured.map((r) => r.pm10)), pm25: mean(measured.map((r) => r.pm25)), khaiGrade: mean(measured.map((r) => r.khai)),
    stations: measured.length,
  };
}

export function createAirKoreaClient(opts: { serviceKey: string; baseUrl: string; timeoutMs: number; retries?: number }): AirClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const serviceKey = decodeServiceKey(opts.serviceKey);
  return {
    sido: async (sidoName, district) => {
      // Seoul has 25 city stations, 경기 about 100: 200 rows take a sido in one page.
      const qs = new URLSearchParams({ serviceKey, returnType: 'json', numOfRows: '200', pageNo: '1', sidoName, ver: '1.0' });
      const body = await getDataGoKr(`${base}/getCtprvnRltmMesureDnsty?${qs}`, { service: 'airkorea', timeoutMs: opts.timeoutMs, retries: opts.retries ?? 2 });
      return parseCtprvnRltm(body, sidoName, district);
    },
  };
}
