// Regions for outside data. A walk profile's region is free text ('서울 마포구', '경기도 성남시'); the
// weather and air are fetched and cached per 시·도 (the 17 sido), matched by the region's first word
// in any of its usual spellings. Why per sido: it bounds the hourly fetches at 17 × 2 calls whatever
// users type, AirKorea's real-time list is per sido anyway, and a sido's seat is a fair stand-in for
// a walk's weather at this app's precision. Each sido's point is its city hall or provincial office,
// and `sidoName` is AirKorea's spelling. A code table, not a database one: it changes with the law.
export type Region = { key: string; sidoName: string; lat: number; lng: number; aliases: string[] };

export const REGIONS: readonly Region[] = [
  { key: '서울', sidoName: '서울', lat: 37.5665, lng: 126.978, aliases: ['서울특별시', '서울시'] },
  { key: '부산', sidoName: '부산', lat: 35.1796, lng: 129.0756, aliases: ['부산광역시', '부산시'] },
  { key: '대구', sidoName: '대구', lat: 35.8714, lng: 128.6014, aliases: ['대구광역시', '대구시'] },
  { key: '인천', sidoName: '인천', lat: 37.4563, lng: 126.7052, aliases: ['인천광역시', '인천시'] },
  { key: '광주', sidoName: '광주', lat: 35.1595, lng: 126.8526, aliases: ['광주광역시'] },
  { key: '대전', sidoName: '대전', lat: 36.3504, lng: 127.3845, aliases: ['대전광역시', '대전시'] },
  { key: '울산', sidoName: '울산', lat: 35.5384, lng: 129.3114, aliases: ['울산광역시', '울산시'] },
  { key: '세종', sidoName: '세종', lat: 36.48, lng: 127.289, aliases: ['세종특별자치시', '세종시'] },
  { key: '경기', sidoName: '경기', lat: 37.275, lng: 127.0094, aliases: ['경기도'] },
  { key: '강원', sidoName: '강원', lat: 37.8854, lng: 127.7298, aliases: ['강원도', '강원특별자치도'] },
  { key: '충북', sidoName: '충북', lat: 36.6357, lng: 127.4917, aliases: ['충청북도'] },
  { key: '충남', sidoName: '충남', lat: 36.6588, lng: 126.6728, aliases: ['충청남도'] },
  { key: '전북', sidoName: '전북', lat: 35.8203, lng: 127.1088, aliases: ['전라북도', '전북특별자치도'] },
  { key: '전남', sidoName: '전남', lat: 34.8161, lng: 126.4629, aliases: ['전라남도'] },
  { key: '경북', sidoName: '경북', lat: 36.576, lng: 128.5056, aliases: ['경상북도'] },
  { key: '경남', sidoName: '경남', lat: 35.2383, lng: 128.6925, aliases: ['경상남도'] },
  { key: '제주', sidoName: '제주', lat: 33.489, lng: 126.4983, aliases: ['제주도', '제주특별자치도'] },
];

const BY_NAME = new Map<string, Region>(REGIONS.flatMap((r) => [r.key, ...r.aliases].map((n) => [n, r] as const)));

// The sido of a free-text region by its first word ('서울 마포구' → 서울, '경기도' → 경기); null when
// the first word names no sido (광주 is the metropolitan city; 경기 광주시 starts with 경기).
export function matchRegion(text: string | null | undefined): Region | null {
  const first = text?.trim().split(/\s+/)[0];
  return first ? (BY_NAME.get(first) ?? null) : null;
}
