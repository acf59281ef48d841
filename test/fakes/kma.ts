// A fake of 기상청 단기예보 (VilageFcstInfoService_2.0/getVilageFcst) over real HTTP in its JSON wire
// format: `{ response: { header: { resultCode: '00', resultMsg: 'NORMAL_SERVICE' }, body: { dataType,
// items: { item: [{ baseDate, baseTime, category, fcstDate, fcstTime, fcstValue, nx, ny }] }, pageNo,
// numOfRows, totalCount } } }`, twelve categories for each forecast hour after the issue. resultCode
// '03' NO_DATA for a grid cell it has no forecast for, and the gateway's errors (test/fakes/dataGoKr.ts).
import { startFakeServer, type FakeServer } from './http.ts';
import { envelope, gatewayReply, type DataGoKrMode } from './dataGoKr.ts';

export type FakeWeather = { TMP: number; POP: number; PTY: number; SKY: number; REH: number; WSD: number };

export type FakeKma = FakeServer & {
  mode: DataGoKrMode | 'no_data';
  slowMs: number;
  // The values every forecast hour carries (per grid cell when set in `cells`, key `${nx},${ny}`).
  weather: FakeWeather;
  cells: Map<string, FakeWeather>;
};

const CATEGORIES = ['TMP', 'UUU', 'VVV', 'VEC', 'WSD', 'SKY', 'PTY', 'POP', 'WAV', 'PCP', 'REH', 'SNO'] as const;

export async function startFakeKma(opts: { serviceKey: string }): Promise<FakeKma> {
  let fake: FakeKma;
  const server = await startFakeServer(async (req) => {
    if (req.path !== '/getVilageFcst') return { status: 404, headers: { 'content-type': 'text/html' }, raw: '<html>404 Not Found</html>' };
    const gateway = await gatewayReply(fake.mode === 'no_data' ? 'up' : fake.mode, req.query.get('serviceKey'), opts.serviceKey, fake.slowMs);
    if (gateway) return gateway;
    const baseDate = req.query.get('base_date') ?? '';
    const baseTime = req.query.get('base_time') ?? '';
    const nx = Number(req.query.get('nx')), ny = Number(req.query.get('ny'));
    if (!/^\d{8}$/.test(baseDate) || !['0200', '0500', '0800', '1100', '1400', '1700', '2000', '2300'].includes(baseTime) || !Number.isInteger(nx) || !Number.isInteger(ny)) {
      return { status: 200, body: envelope('10', 'INVALID_REQUEST_PARAMETER_ERROR') };
    }
    if (fake.mode === 'no_data') return { status: 200, body: envelope('03', 'NO_DATA') };
    const w = fake.cells.get(`${nx},${ny}`) ?? fake.weather;
    const items: unknown[] = [];
    const issued = Date.parse(`${baseDate.slice(0, 4)}-${baseDate.slice(4, 6)}-${baseDate.slice(6, 8)}T${baseTime.slice(0, 2)}:00:00+09:00`);
    for (let h = 1; h <= 24; h++) {
      const kst = new Date(issued + h * 3600_000 + 9 * 3600_000).toISOString();
      const fcstDate = kst.slice(0, 10).replace(/-/g, ''), fcstTime = `${kst.slice(11, 13)}00`;
      const values: Record<string, string> = {
        TMP: String(w.TMP), UUU: '0.5', VVV: '-1.2', VEC: '200', WSD: String(w.WSD), SKY: String(w.SKY), PTY: String(w.PTY),
        POP: String(w.POP), WAV: '0', PCP: w.PTY ? '1.0mm' : '강수없음', REH: String(w.REH), SNO: '적설없음',
      };
      for (const category of CATEGORIES) items.push({ baseDate, baseTime, category, fcstDate, fcstTime, fcstValue: values[category], nx, ny });
    }
    const numOfRows = Number(req.query.get('numOfRows') ?? 10), pageNo = Number(req.query.get('pageNo') ?? 1);
    const page = items.slice((pageNo - 1) * numOfRows, pageNo * numOfRows);
    return { status: 200, body: envelope('00', 'NORMAL_SERVICE', { dataType: 'JSON', items: { item: page }, pageNo, numOfRows, totalCount: items.length }) };
  });
  fake = Object.assign(server, {
    mode: 'up' as FakeKma['mode'],
    slowMs: 2000,
    weather: { TMP: 12, POP: 10, PTY: 0, SKY: 1, REH: 55, WSD: 2.1 },
    cells: new Map<string, FakeWeather>(),
  });
  return fake;
}
