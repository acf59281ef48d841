// Walk meetups at size (issue 14: "nearby meetups within 2 km p50 < 10 ms with 100k meetups; 50
// concurrent joins to a meetup of capacity 10: exactly 10 members"). --meetups open meetups spread
// uniformly over South Korea's box (lat 33–38.6, lng 124.6–131), starting over the next 30 days,
// inserted with generate_series; then:
//   - nearby: GET /meetups/nearby's query (services/walk/meetups.ts, the partial GiST index on
//     ll_to_earth) at --points random points, radius --radius, p50/p99; once at uniform points over
//     the box (many in the sea: few rows), once at meetups' own places (the dense case); and the same
//     over HTTP (token auth, zod, the JSON) at the dense points;
//   - the race: --rounds meetups of capacity 10 (the host is the first member), 50 walkers joining
//     each at once over HTTP; every round must end with exactly 10 members.
//
//   npm run bench:walk-meetups [-- --meetups 100000 --points 200 --radius 2000 --rounds 5]
//
// With DATABASE_URL it works in a scratch database on that server, dropped at the end; without, in
// the benches' embedded Postgres, removing its rows at the end.
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../server/config.ts';
import { createDatabaseIfMissing, dropDatabase } from '../server/db.ts';
import { startApiNode } from '../server/node.ts';
import { createTimeFormatter, systemClock } from '../services/time.ts';
import { createMeetupService } from '../services/walk/meetups.ts';
import { benchApiEnv, mapLimited, percentile, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    meetups: { type: 'string', default: '100000' },
    hosts: { type: 'string', default: '2000' },
    points: { type: 'string', default: '200' },
    radius: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
  },
});
const MEETUPS = Number(args.meetups);
const HOSTS = Number(args.hosts);
const POINTS = Number(args.points);
const RADIUS_M = Number(args.radius);
const ROUNDS = Number(args.rounds);
const JOINERS = 50;
const CAPACITY = 10;
const GOAL_P50_MS = 10;
const BOX = { minLat: 33, maxLat: 38.6, minLng: 124.6, maxLng: 131 };

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
const runId = `${Date.now().toString(36)}${process.pid}`;
let scratchUrl: string | undefined;
if (process.env.DATABASE_URL) {
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/bench_walk_meetups_${runId}`;
  scratchUrl = url.toString();
  await createDatabaseIfMissing(scratchUrl);
}
const node = await startApiNode(loadConfig(benchApiEnv({ DATABASE_POOL_MAX: '20', MIGRATE_ON_START: 'true', ...(scratchUrl ? { DATABASE_URL: scratchUrl } : {}) })));
const em = node.ctx.db.orm.em;
// The service as the module builds it; nothing here notifies or starts sessions.
const meetups = createMeetupService({
  em, clock: systemClock, time: createTimeFormatter('Asia/Seoul'), logger: pino({ level: 'warn' }),
  notify: async () => undefined, together: { create: async () => { throw new Error('not in this bench'); } },
});
const sql = (text: string, params: unknown[] = []) => em.fork().execute(text, params);
// A fixed sequence, so two runs search the same points.
let seed = 14;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
let failed = false;

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] };
};
const fmt = (x: { p50: number; p99: number; max: number }) => `p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms, max ${x.max.toFixed(2)} ms`;

try {
  const started = performance.now();
  await sql(`insert into users (id, username) select md5(? || g)::uuid, 'bwm_' || ? || '_' || g from generate_series(1, ?) g`, [runId, runId, HOSTS]);
  await sql(
    `insert into walk_meetups (id, host_id, title, place_name, lat, lng, starts_at, capacity, member_count, status)
     select md5(? || 'm' || g)::uuid, md5(? || (g % ? + 1))::uuid, 'bench meetup ' || g, 'somewhere ' || g,
            ? + random() * ?, ? + random() * ?, now() + interval '1 hour' + random() * interval '30 days', 10, 1, 'open'
     from generate_series(1, ?) g`,
    [runId, runId, HOSTS, BOX.minLat, BOX.maxLat - BOX.minLat, BOX.minLng, BOX.maxLng - BOX.minLng, MEETUPS]);
  await sql(`insert into walk_meetup_members (meetup_id, user_id) select id, host_id from walk_meetups where title like 'bench meetup %'`);
  await sql('vacuum analyze walk_meetups');
  await sql('vacuum analyze walk_meetup_members');
  console.log(`${MEETUPS} open meetups by ${HOSTS} hosts over lat ${BOX.minLat}–${BOX.maxLat}, lng ${BOX.minLng}–${BOX.maxLng} inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const viewer = await registerBenchUser(node.url, `bwm_${runId}_viewer`);
  const uniform = Array.from({ length: POINTS }, () => ({ lat: BOX.minLat + random() * (BOX.maxLat - BOX.minLat), lng: BOX.minLng + random() * (BOX.maxLng - BOX.minLng) }));
  const dense = await sql(`select lat, lng from walk_meetups where title like 'bench meetup %' order by md5(id::text) limit ?`, [POINTS]) as { lat: number; lng: number }[];

  const plan = await sql(
    `explain select m.id from walk_meetups m where m.status = 'open' and m.starts_at >= now()
       and earth_box(ll_to_earth(?, ?), ?) @> ll_to_earth(m.lat, m.lng) and earth_distance(ll_to_earth(?, ?), ll_to_earth(m.lat, m.lng)) <= ?`,
    [dense[0].lat, dense[0].lng, RADIUS_M, dense[0].lat, dense[0].lng, RADIUS_M]) as { 'QUERY PLAN': string }[];
  const index = plan.map((r) => r['QUERY PLAN']).find((l) => /Index Scan/.test(l));
  console.log(`plan: ${index?.trim() ?? plan.map((r) => r['QUERY PLAN']).join(' / ')}`);

  async function measure(points: { lat: number; lng: number }[], one: (p: { lat: number; lng: number }) => Promise<number>) {
    for (const p of points.slice(0, 20)) await one(p);
    const ms: number[] = [];
    const found: number[] = [];
    for (const p of points) {
      const t = performance.now();
      found.push(await one(p));
      ms.push(performance.now() - t);
    }
    return { ...stats(ms), found: found.reduce((a, b) => a + b, 0) / found.length };
  }
  const service = (p: { lat: number; lng: number }) => meetups.nearby(viewer.id, { ...p, radiusM: RADIUS_M, limit: 20 }).then((r) => r.items.length);
  const overHttp = async (p: { lat: number; lng: number }) => {
    const res = await fetch(`${node.url}/meetups/nearby?lat=${p.lat}&lng=${p.lng}&radiusM=${RADIUS_M}&limit=20`, { headers: { Authorization: `Bearer ${viewer.accessToken}` } });
    if (res.status !== 200) throw new Error(`nearby answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { items: unknown[] }).items.length;
  };
  const u = await measure(uniform, service);
  const d = await measure(dense, service);
  const h = await measure(dense, overHttp);
  console.log(`nearby ${RADIUS_M} m, ${POINTS} uniform points (service): ${fmt(u)}; ${u.found.toFixed(1)} meetups found on average`);
  console.log(`nearby ${RADIUS_M} m, ${POINTS} points at meetups (service): ${fmt(d)}; ${d.found.toFixed(1)} meetups found on average`);
  console.log(`nearby ${RADIUS_M} m, ${POINTS} points at meetups (HTTP): ${fmt(h)}`);
  const worst = Math.max(u.p50, d.p50);
  console.log(`  goal p50 < ${GOAL_P50_MS} ms: ${worst < GOAL_P50_MS ? 'met' : 'MISSED'} (${worst.toFixed(2)} ms)`);
  if (worst >= GOAL_P50_MS) failed = true;

  // The race: 50 walkers join one meetup of capacity 10 at once, over HTTP.
  const host = await registerBenchUser(node.url, `bwm_${runId}_host`);
  const walkers = await mapLimited(JOINERS, 10, (i) => registerBenchUser(node.url, `bwm_${runId}_w${i}`));
  const post = (token: string, path: string, body?: unknown) => fetch(`${node.url}${path}`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  for (let round = 1; round <= ROUNDS; round++) {
    const created = await post(host.accessToken, '/meetups', {
      title: `race ${round}`, placeName: '서울숲', lat: 37.5444, lng: 127.0374, startsAt: new Date(Date.now() + 3600_000).toISOString(), capacity: CAPACITY,
    });
    const { id } = (await created.json()) as { id: string };
    const t = performance.now();
    const statuses = await Promise.all(walkers.map((w) => post(w.accessToken, `/meetups/${id}/join`).then(async (r) => (await r.arrayBuffer(), r.status))));
    const ms = performance.now() - t;
    const [row] = await sql(`select member_count, (select count(*) from walk_meetup_members where meetup_id = ?)::int as members from walk_meetups where id = ?`, [id, id]) as { member_count: number; members: number }[];
    const joined = statuses.filter((s) => s === 201).length;
    const full = statuses.filter((s) => s === 409).length;
    const ok = row.members === CAPACITY && row.member_count === CAPACITY && joined === CAPACITY - 1 && full === JOINERS - joined;
    console.log(`race ${round}: ${JOINERS} concurrent joins to capacity ${CAPACITY} (host included) in ${ms.toFixed(0)} ms: ${joined} joined, ${full} full; members ${row.members}, member_count ${row.member_count}: ${ok ? 'exactly 10' : 'WRONG'}`);
    if (!ok) failed = true;
  }
} finally {
  if (scratchUrl) {
    await node.shutdown('bench done');
    await dropDatabase(scratchUrl);
  } else {
    // Meetups and their members go with their users.
    await sql(`delete from users where username like ?`, [`bwm_${runId}_%`]);
    await node.shutdown('bench done');
  }
}
process.exit(failed ? 1 : 0);
