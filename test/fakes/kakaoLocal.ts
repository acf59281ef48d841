// A fake of Kakao Local's keyword search (GET /v2/local/search/keyword.json) over real HTTP in its
// wire format: `Authorization: KakaoAK <REST API key>`; query, x (lng), y (lat), radius (m, ≤ 20000),
// sort=distance, page (1..45), size (1..15); answers `{ meta: { total_count, pageable_count, is_end,
// same_name }, documents: [{ id, place_name, category_name, category_group_code, phone,
// address_name, road_address_name, x, y, place_url, distance }] }` with x, y and distance as strings.
// Errors: `{ errorType, message }` with 400, 401 or 503 (its outage answer in 'down' mode).
import { startFakeServer, type FakeServer } from './http.ts';

export type FakePlace = { id: string; name: string; lat: number; lng: number; phone?: string; address?: string; keywords?: string[] };

export type FakeKakaoLocal = FakeServer & { mode: 'up' | 'down' | 'slow'; slowMs: number; places: FakePlace[] };

function metres(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const R = 6371_000, rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad, dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

export async function startFakeKakaoLocal(opts: { restApiKey: string }): Promise<FakeKakaoLocal> {
  let fake: FakeKakaoLocal;
  const server = await startFakeServer(async (req) => {
    if (fake.mode === 'slow') await new Promise((r) => setTimeout(r, fake.slowMs));
    if (fake.mode === 'down') return { status: 503, body: { errorType: 'ServiceUnavailable', message: 'service is temporarily unavailable' } };
    if (req.headers.authorization !== `KakaoAK ${opts.restApiKey}`) return { status: 401, body: { errorType: 'AccessDeniedError', message: 'cannot find appKey' } };
    if (req.path !== '/v2/local/search/keyword.json') return { status: 404, body: { errorType: 'NotFound', message: 'not found' } };
    const query = req.query.get('query') ?? '';
    const x = Number(req.query.get('x')), y = Number(req.query.get('y'));
    const radius = Number(req.query.get('radius') ?? 20000), page = Number(req.query.get('page') ?? 1), size = Number(req.query.get('size') ?? 15);
    if (!query) return { status: 400, body: { errorType: 'MissingParameter', message: 'query parameter required' } };
    if (!Number.isFinite(x) || !Number.isFinite(y) || !(radius >= 0 && radius <= 20000) || !(page >= 1 && page <= 45) || !(size >= 1 && size <= 15)) {
      return { status: 400, body: { errorType: 'InvalidArgument', message: 'invalid argument' } };
    }
    const center = { lat: y, lng: x };
    const hits = fake.places
      .filter((p) => p.name.includes(query) || (p.keywords ?? ['동물병원']).includes(query))
      .map((p) => ({ p, d: metres(center, p) }))
      .filter(({ d }) => d <= radius)
      .sort((a, b) => a.d - b.d);
    const pageable = Math.min(45, hits.length);
    const docs = hits.slice(0, pageable).slice((page - 1) * size, page * size).map(({ p, d }) => ({
      id: p.id, place_name: p.name, category_name: '가정,생활 > 반려동물 > 동물병원', category_group_code: '', category_group_name: '',
      phone: p.phone ?? '', address_name: p.address ?? '서울 중구 태평로1가 31', road_address_name: p.address ?? '서울 중구 세종대로 110',
      x: String(p.lng), y: String(p.lat), place_url: `http://place.map.kakao.com/${p.id}`, distance: String(Math.round(d)),
    }));
    return {
      status: 200,
      body: { meta: { total_count: hits.length, pageable_count: pageable, is_end: page * size >= pageable, same_name: null }, documents: docs },
    };
  });
  fake = Object.assign(server, { mode: 'up' as FakeKakaoLocal['mode'], slowMs: 2000, places: [] as FakePlace[] });
  return fake;
}
