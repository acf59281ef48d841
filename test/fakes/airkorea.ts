// A fake of 에어코리아 real-time air quality (ArpltnInforInqireSvc/getCtprvnRltmMesureDnsty) over real
// HTTP in its JSON wire format: `{ response: { body: { totalCount, items: [{ stationName, sidoName,
// dataTime, pm10Value, pm25Value, khaiGrade, … }], pageNo, numOfRows }, header: { resultMsg,
// resultCode } } }` — items an array directly under body, values strings, '-' for a station that did
// not measure; the gateway's errors as in test/fakes/dataGoKr.ts.
import { startFakeServer, type FakeServer } from './http.ts';
import { envelope, gatewayReply, type DataGoKrMode } from './dataGoKr.ts';

export type FakeStation = { stationName: string; pm10: number | null; pm25: number | null; khaiGrade: number | null };

export type FakeAirKorea = FakeServer & {
  mode: DataGoKrMode;
  slowMs: number;
  dataTime: string;
  // Stations by sidoName; a sido not here answers a few stations with `fallback`'s values.
  stations: Map<string, FakeStation[]>;
  fallback: { pm10: number; pm25: number; khaiGrade: number };
};

const SIDOS = ['전국', '서울', '부산', '대구', '인천', '광주', '대전', '울산', '경기', '강원', '충북', '충남', '전북', '전남', '경북', '경남', '제주', '세종'];

export async function startFakeAirKorea(opts: { serviceKey: string }): Promise<FakeAirKorea> {
  let fake: FakeAirKorea;
  const server = await startFakeServer(async (req) => {
    if (req.path !== '/getCtprvnRltmMesureDnsty') return { status: 404, headers: { 'content-type': 'text/html' }, raw: '<html>404 Not Found</html>' };
    const gateway = await gatewayReply(fake.mode, req.query.get('serviceKey'), opts.serviceKey, fake.slowMs);
    if (gateway) return gateway;
    const sidoName = req.query.get('sidoName') ?? '';
    if (!SIDOS.includes(sidoName)) return { status: 200, body: envelope('10', 'INVALID_REQUEST_PARAMETER_ERROR') };
    const stations = fake.stations.get(sidoName) ?? ['A', 'B', 'C'].map((s) => ({ stationName: `${sidoName}${s}`, ...fake.fallback }));
    const items = stations.map((s) => ({
      so2Grade: '1', coFlag: null, khaiValue: s.khaiGrade === null ? '-' : String(40 + s.khaiGrade * 20), so2Value: '0.003', coValue: '0.4',
      pm10Flag: s.pm10 === null ? '통신장애' : null, pm10Value: s.pm10 === null ? '-' : String(s.pm10), pm25Value: s.pm25 === null ? '-' : String(s.pm25),
      o3Grade: '1', khaiGrade: s.khaiGrade === null ? null : String(s.khaiGrade), no2Value: '0.020', sidoName, stationName: s.stationName,
      dataTime: fake.dataTime, pm10Grade: '2', pm25Grade: '2', o3Value: '0.025', coGrade: '1', no2Grade: '1', mangName: '도시대기',
    }));
    const numOfRows = Number(req.query.get('numOfRows') ?? 10), pageNo = Number(req.query.get('pageNo') ?? 1);
    return { status: 200, body: { response: { body: { totalCount: items.length, items: items.slice((pageNo - 1) * numOfRows, pageNo * numOfRows), pageNo, numOfRows }, header: { resultMsg: 'NORMAL_CODE', resultCode: '00' } } } };
  });
  fake = Object.assign(server, {
    mode: 'up' as DataGoKrMode,
    slowMs: 2000,
    dataTime: '2026-11-27 18:00',
    stations: new Map<string, FakeStation[]>(),
    fallback: { pm10: 25, pm25: 12, khaiGrade: 1 },
  });
  return fake;
}
