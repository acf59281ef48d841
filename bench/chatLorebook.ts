// The lorebook's share of the chat's prompt-assembly target (issue 10: memory, lorebook with 500
// entries and affinity < 20 ms at p50 for a room of 1,000 messages): scanLorebook over a 500-entry
// book (English and Korean keys, secondary keys, constants, semantic hits, cooldowns, enabledBy,
// recursion) and a 1,000-message room, timed per call, with the real token counter.
//
//   node bench/chatLorebook.ts [--iterations 5000] [--entries 500] [--messages 1000] [--scan-depth 4]
//
// Rows: the same book object every scan (compiled once, token counts kept: a cached character); a new
// book object every scan (a shallow copy: compiled and counted each time, as for a character read
// from the database for each message, less the garbage of parsing it); placeEntries; and
// semanticScores with a warm cache. Each iteration moves the room's end one message on (the scan is
// handed the whole room up to there) and carries the state over, so cooldowns and enabledBy are live.
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { placeEntries, scanLorebook, semanticScores, type LorebookMessage, type LorebookScan } from '../services/chat/lorebook.ts';
import { lorebook, type Lorebook, type LorebookState } from '../services/chat/schemas.ts';
import { countTextTokens } from '../services/llm/tokens.ts';
import { percentile } from './support.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '5000' },
    entries: { type: 'string', default: '500' },
    messages: { type: 'string', default: '1000' },
    'scan-depth': { type: 'string', default: '4' },
  },
});
const ITERATIONS = Number(args.iterations);
const ENTRIES = Number(args.entries);
const MESSAGES = Number(args.messages);
const SCAN_DEPTH = Number(args['scan-depth']);

// A seeded generator, so every run scans the same book and room.
let seed = 42;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];

const SYLLABLES = ['엘', '프', '드', '래', '곤', '마', '법', '성', '왕', '숲', '바', '다', '검', '활', '별', '달', '해', '빛'];
const PARTICLES = ['는', '가', '의', '를', '에게', '와', '도', ''];
const LATIN = ['ar', 'bel', 'cor', 'dun', 'el', 'fa', 'gor', 'hil', 'ith', 'kal', 'mor', 'nar', 'or', 'pel', 'quin', 'ros', 'sil', 'tor', 'ul', 'vek'];
const FILLER = ['the', 'and', 'then', 'we', 'walked', 'slowly', 'toward', '그리고', '우리는', '천천히', '걸었다', '정말', 'said', 'quietly', '하지만'];

function koreanWord(): string {
  return Array.from({ length: 2 + Math.floor(random() * 2) }, () => pick(SYLLABLES)).join('');
}
function latinWord(): string {
  return Array.from({ length: 2 + Math.floor(random() * 2) }, () => pick(LATIN)).join('');
}

const keyPool = Array.from({ length: ENTRIES * 2 }, (_, i) => (i % 2 ? koreanWord() : latinWord()));

function buildBook(): Lorebook {
  const entries = Array.from({ length: ENTRIES }, (_, i) => {
    const keys = [pick(keyPool), pick(keyPool), pick(keyPool)];
    const selective = i % 5 === 0;
    return {
      id: `e${i}`,
      keys,
      secondaryKeys: selective ? [pick(keyPool), pick(keyPool)] : [],
      selective,
      selectiveLogic: pick(['and_any', 'and_all', 'not_any', 'not_all'] as const),
      // 60–120 words, with a key of another entry now and then (recursion).
      content: Array.from({ length: 60 + Math.floor(random() * 60) }, () => (random() < 0.02 ? pick(keyPool) : pick(FILLER))).join(' '),
      constant: i % 50 === 0,
      caseSensitive: i % 7 === 0,
      matchWholeWords: i % 11 !== 0,
      scanDepth: i % 10 === 0 ? 10 : undefined,
      insertionOrder: Math.floor(random() * 1000),
      position: pick(['before_char', 'after_char', 'before_examples', 'after_examples', 'at_depth'] as const),
      semantic: i % 10 === 3,
      cooldown: i % 4 === 0 ? 3 : 0,
      enabledBy: i % 25 === 1 ? [`e${i - 1}`] : [],
    };
  });
  return lorebook.parse({ scanDepth: SCAN_DEPTH, tokenBudget: 2048, recursiveScanning: true, entries });
}

// 20–60 words each; one in three words a key of some entry.
const room: LorebookMessage[] = Array.from({ length: MESSAGES }, (_, index) => ({
  role: index % 2 ? 'character' : 'user',
  index,
  content: Array.from({ length: 20 + Math.floor(random() * 40) }, () =>
    random() < 0.05 ? `${pick(keyPool)}${pick(PARTICLES)}` : pick(FILLER),
  ).join(' '),
}));

const book = buildBook();

// Semantic scores as semanticScores would give them: a warm cache, an embedder that answers at once.
const DIMENSIONS = 256;
const vectorOf = (text: string) => Array.from({ length: DIMENSIONS }, (_, d) => Math.sin(text.length * (d + 1)));
const embed = async (texts: string[]) => texts.map(vectorOf);
const embeddingCache = new Map<string, readonly number[]>();

type Row = { name: string; samples: number[]; injected: number[]; tokens: number[] };

async function run(name: string, bookFor: () => Lorebook, withSemantic: boolean): Promise<Row> {
  const row: Row = { name, samples: [], injected: [], tokens: [] };
  let state: LorebookState = { lastHitAt: {} };
  const warmUp = Math.min(200, ITERATIONS);
  for (let i = 0; i < warmUp + ITERATIONS; i++) {
    // Rooms end somewhere after their 500th message; the scan is handed the whole room.
    const messages = room.slice(0, MESSAGES / 2 + (i % (MESSAGES / 2)) + 1);
    const b = bookFor();
    const semanticHits = withSemantic ? await semanticScores({ entries: b.entries, query: messages[messages.length - 1].content, embed, cache: embeddingCache }) : undefined;
    const started = performance.now();
    const scan: LorebookScan = scanLorebook({ book: b, messages, state, countTokens: countTextTokens, semanticHits });
    const took = performance.now() - started;
    state = scan.nextState;
    if (i >= warmUp) {
      row.samples.push(took);
      row.injected.push(scan.injected.length);
      row.tokens.push(scan.tokensUsed);
    }
  }
  return row;
}

async function timePlacement(): Promise<Row> {
  const row: Row = { name: 'placeEntries', samples: [], injected: [], tokens: [] };
  const scan = scanLorebook({ book, messages: room, countTokens: countTextTokens });
  for (let i = 0; i < ITERATIONS; i++) {
    const started = performance.now();
    placeEntries(scan);
    row.samples.push(performance.now() - started);
  }
  return row;
}

async function timeSemanticScores(): Promise<Row> {
  const row: Row = { name: 'semanticScores (warm cache, instant embed)', samples: [], injected: [], tokens: [] };
  for (let i = 0; i < ITERATIONS; i++) {
    const started = performance.now();
    await semanticScores({ entries: book.entries, query: room[i % MESSAGES].content, embed, cache: embeddingCache });
    row.samples.push(performance.now() - started);
  }
  return row;
}

console.log(`Node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(
  `book: ${ENTRIES} entries (${book.entries.filter((e) => e.constant).length} constant, ${book.entries.filter((e) => e.selective).length} selective, ` +
    `${book.entries.filter((e) => e.semantic).length} semantic), scanDepth ${SCAN_DEPTH} (some entries 10), budget ${book.tokenBudget} tokens, recursion on; ` +
    `room: ${MESSAGES} messages; ${ITERATIONS} scans per row\n`,
);

const rows = [
  await run('scanLorebook, cached book', () => book, true),
  await run('scanLorebook, book compiled each scan', () => ({ ...book }), true),
  await timePlacement(),
  await timeSemanticScores(),
];

const ms = (n: number) => n.toFixed(3);
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
console.log('| what | p50 ms | p99 ms | max ms | injected (median) | tokens (median) |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const sorted = [...r.samples].sort((a, b) => a - b);
  const extra = r.injected.length ? `${median(r.injected)} | ${median(r.tokens)}` : '– | –';
  console.log(`| ${r.name} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} | ${ms(sorted[sorted.length - 1])} | ${extra} |`);
}
const p50 = percentile([...rows[0].samples].sort((a, b) => a - b), 50);
console.log(`\nThe lorebook's share of the 20 ms prompt-assembly budget at p50: ${((p50 / 20) * 100).toFixed(1)} % (cached book).`);
