// Kakao Local keyword search (dapi.kakao.com/v2/local/search/keyword.json) for animal hospitals:
// Kakao's category groups have no vet code (HP8 is human hospitals), so the keyword '동물병원' around
// x (longitude), y (latitude) within `radius` metres (≤ 20000), sort=distance, 15 a page, at most 45
// places per search. `Authorization: KakaoAK <REST API key>`. Errors come as a status with
// `{ errorType, message }` (older gateways: `{ code, msg }`).
import { fetchOnce, ProviderCallError, readJson, retryAfterMs, withRetries } from '../http.ts';

export type Place = { id: string; name: string; address: string; phone: string; lat: number; lng: number };
export type PlaceSearch = { places: Place[]; complete: boolean };
export type PlacesClient = { animalHospitals: (at: { lat: number; lng: number; radiusM: number }) => Promise<PlaceSearch> };

const PAGE_SIZE = 15;
const MAX_PAGES = 3;

type Doc = { id?: unknown; place_name?: unknown; phone?: unknown; address_name?: unknown; road_address_name?: unknown; x?: unknown; y?: unknown };

function toPlace(d: Doc): Place | null {
  const lat = Number(d.y), lng = Number(d.x);
  if (typeof d.id !== 'string' || typeof d.place_name !== 'string' || !Number.isFinite(lat) || !Number.isFinite(lng)) return null;
  if (lat < -90 || lat > 90 || lng < -180 || lng > 180) return null;
  const road = typeof d.road_address_name === 'string' ? d.road_address_name : '';
  const lot = typeof d.address_name === 'string' ? d.address_name : '';
  return { id: d.id, name: d.place_name, address: road || lot, phone: typeof d.phone === 'string' ? d.phone : '', lat, lng };
}

export function createKakaoLocalClient(opts: { restApiKey: string; baseUrl: string; timeoutMs: number; retries?: number }): PlacesClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const service = 'kakao-local';
  const page = (qs: URLSearchParams) => withRetries({ retries: opts.retries ?? 1, baseDelayMs: 200, maxDelayMs: 2000 }, async () => {
    const res = await fetchOnce(`${base}/v2/local/search/keyword.json?${qs}`, { service, timeoutMs: opts.timeoutMs, headers: { authorization: `KakaoAK ${opts.restApiKey}` } });
    const json = (await readJson(res)) as { errorType?: unknown; message?: unknown; code?: unknown; msg?: unknown; meta?: { is_end?: unknown }; documents?: unknown } | undefined;
    if (!res.ok) {
      const code = typeof json?.errorType === 'string' ? json.errorType : json?.code !== undefined ? `code_${String(json.code)}` : `http_${res.status}`;
      throw new ProviderCallError(service, code, `HTTP ${res.status} ${code}`, { status: res.status, retryable: res.status === 429 || res.status >= 500, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) });
    }
    if (!json || !Array.isArray(json.documents)) throw new ProviderCallError(service, 'invalid_response', 'answered without documents', { status: res.status, retryable: true });
    return { docs: json.documents as Doc[], isEnd: json.meta?.is_end === true };
  });
  return {
    animalHospitals: async ({ lat, lng, radiusM }) => {
      const places: Place[] = [];
      let complete = false;
      for (let p = 1; p <= MAX_PAGES; p++) {
        const qs = new URLSearchParams({ query: '동물병원', x: String(lng), y: String(lat), radius: String(Math.min(20_000, Math.round(radiusM))), sort: 'distance', page: String(p), size: String(PAGE_SIZE) });
        const { docs, isEnd } = await page(qs);
        for (const d of docs) {
          const place = toPlace(d);
          if (place) places.push(place);
        }
        if (isEnd) {
          complete = true;
          break;
        }
      }
      return { places, complete };
    },
  };
}
