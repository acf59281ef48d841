// Likes under contention (issue 11): --users users like and unlike one character as fast as they
// can for --seconds, over HTTP on one API node. Then the character's like count must equal the
// like rows: the count moves only when a row was inserted or deleted, in the same transaction.
// Prints toggles/s, p50/p99 latency, the final count and the rows.
//
//   node_modules/.bin/node bench/chat-social.ts [--users 200] [--seconds 10] [--register 8]
//   npm run bench:chat-social
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { benchApiEnv, mapLimited, percentile, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    register: { type: 'string', default: '8' },
  },
});
const USERS = Number(args.users);
const SECONDS = Number(args.seconds);

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
const node = await startApiNode(loadConfig(benchApiEnv({ DATABASE_POOL_MAX: '20' })));
let failed = false;
try {
  const runId = `${Date.now().toString(36)}${process.pid}`;
  const users = await mapLimited(USERS, Number(args.register), (i) => registerBenchUser(node.url, `s${runId}_${i}`));
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(node.url + path, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const character = await call('POST', '/characters', users[0].accessToken, { name: '벤치 캐릭터' });
  const id = character.body.id as string;
  console.log(`${USERS} users registered; liking and unliking one character for ${SECONDS} s`);

  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(users.map(async (u, i) => {
    let like = i % 2 === 0;
    while (performance.now() < until) {
      const started = performance.now();
      const res = await call(like ? 'POST' : 'DELETE', `/characters/${id}/like`, u.accessToken);
      latencies.push(performance.now() - started);
      if (res.status !== 200) errors++;
      like = !like;
    }
  }));
  latencies.sort((a, b) => a - b);
  const status = await call('GET', `/characters/${id}/like-status`, users[0].accessToken);
  const [{ n }] = await node.ctx.db.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from social_reactions where target_type = 'chat.character' and target_id = ?`, [id]);
  const shown = (await call('GET', `/characters/${id}`, users[0].accessToken)).body.likeCount as number;
  console.log(`toggles: ${latencies.length} in ${SECONDS} s = ${Math.round(latencies.length / SECONDS)}/s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, non-200 ${errors}`);
  console.log(`final: like-status count ${status.body.likeCount}, character likeCount ${shown}, like rows ${Number(n)}`);
  const exact = status.body.likeCount === Number(n) && shown === Number(n) && errors === 0;
  console.log(`goal: the final count equals the rows → ${exact ? 'MET' : 'NOT MET'}`);
  failed = !exact;
} finally {
  await node.shutdown('bench done');
}
process.exit(failed ? 1 : 0);
