// What does the Piscina pool buy for images? sharp already runs each operation on libuv's
// threadpool (UV_THREADPOOL_SIZE threads, shared by the whole process, workers included), so the
// main thread mostly waits either way. This runs the same batch (a) straight on the main thread and
// (b) through the pool at sizes 1 and 2, under several UV_THREADPOOL_SIZE values (each in its own
// process, because libuv reads the variable once), and reports throughput, the main thread's
// event-loop delay and utilisation, and how long a tiny threadpool job (a 1-iteration pbkdf2, standing
// in for fs, dns.lookup, zlib, argon2) waits behind the image work.
//
// The machine may be shared, so each case runs --rounds times and the median round is reported.
//
//   node bench/image-pool.ts [--images 40] [--concurrency 8] [--uv 1,2,4] [--rounds 3]
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { percentile } from './support.ts';
import { processImage } from '../workers/image.ts';
import type { ImageInput, ImageResult } from '../workers/image.ts';
import { createWorkerPool } from '../workers/pool.ts';

type CaseResult = {
  uv: string;
  mode: string;
  imagesPerSecond: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  mainThreadBusy: number;
  threadpoolWaitP50Ms: number;
  threadpoolWaitP99Ms: number;
};

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '8' },
    uv: { type: 'string', default: '1,2,4' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'string' }, // directory holding the generated images
  },
});
const IMAGES = Number(args.images);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);

async function parent(): Promise<void> {
  const header = `${IMAGES} JPEGs of 2000×1500, concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds`;
  console.log(`${header}, ${availableParallelism()} CPUs, sharp.concurrency()=${sharp.concurrency()}, Node ${process.version}`);
  const dir = await mkdtemp(join(tmpdir(), 'image-pool-bench-'));
  try {
    await writeInputs(dir, IMAGES);
    const rows: CaseResult[] = [];
    for (const uv of args.uv.split(',')) rows.push(...(await runChild(uv.trim(), dir)));
    printTable(rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(uv: string, dir: string): Promise<CaseResult[]> {
  const script = fileURLToPath(import.meta.url);
  const childArgs = [script, '--child', dir, '--images', String(IMAGES), '--concurrency', String(CONCURRENCY), '--rounds', String(ROUNDS)];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, childArgs, { env: { ...process.env, UV_THREADPOOL_SIZE: uv }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk));
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as CaseResult[]) : reject(new Error(`child for UV_THREADPOOL_SIZE=${uv} exited ${code}`))));
  });
}

async function child(dir: string): Promise<void> {
  const uv = process.env.UV_THREADPOOL_SIZE ?? '4';
  const inputs = await readInputs(dir, IMAGES);
  const results: CaseResult[] = [];
  results.push({ uv, ...(await medianOf(() => measure('main thread', inputs, processImage))) });
  for (const size of [1, 2]) {
    const pool = createWorkerPool({ size, maxQueue: IMAGES });
    try {
      await Promise.all(Array.from({ length: size * 2 }, () => pool.processImage(inputs[0]))); // load sharp in every thread
      const runInPool = (input: ImageInput) => pool.processImage(input);
      results.push({ uv, ...(await medianOf(() => measure(`pool size ${size}`, inputs, runInPool))) });
    } finally {
      await pool.close();
    }
  }
  process.stdout.write(JSON.stringify(results));
}

async function writeInputs(dir: string, count: number): Promise<void> {
  // Distinct images, so libvips' operation cache cannot serve repeats; noise over a coloured
  // background gives photo-like JPEG sizes (~1 MB) and decode cost.
  for (let i = 0; i < count; i++) {
    const background = { r: (i * 37) % 256, g: 90, b: 160 };
    const image = sharp({ create: { width: 2000, height: 1500, channels: 3, background, noise: { type: 'gaussian', mean: 120, sigma: 18 } } });
    await writeFile(join(dir, `${i}.jpg`), await image.jpeg({ quality: 85 }).toBuffer());
  }
}

async function readInputs(dir: string, count: number): Promise<ImageInput[]> {
  return Promise.all(Array.from({ length: count }, async (_, i) => ({ bytes: await readFile(join(dir, `${i}.jpg`)) })));
}

async function medianOf(round: () => Promise<Omit<CaseResult, 'uv'>>): Promise<Omit<CaseResult, 'uv'>> {
  const rounds: Omit<CaseResult, 'uv'>[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  rounds.sort((a, b) => a.imagesPerSecond - b.imagesPerSecond);
  return rounds[Math.floor(rounds.length / 2)];
}

async function measure(mode: string, inputs: ImageInput[], run: (input: ImageInput) => Promise<ImageResult>): Promise<Omit<CaseResult, 'uv'>> {
  await run(inputs[0]); // warm up code paths outside the measurement
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const eluStart = performance.eventLoopUtilization();
  lag.enable();
  const probe = probeThreadpool();
  const started = performance.now();
  await eachLimited(inputs, CONCURRENCY, async (input) => {
    const result = await run(input);
    if (!result.ok) throw new Error(`${mode}: ${result.error.message}`);
  });
  const seconds = (performance.now() - started) / 1000;
  lag.disable();
  const elu = performance.eventLoopUtilization(eluStart);
  const waits = await probe.stop();
  const sortedWaits = [...waits].sort((a, b) => a - b);
  return {
    mode,
    imagesPerSecond: inputs.length / seconds,
    lagP50Ms: lag.percentile(50) / 1e6,
    lagP99Ms: lag.percentile(99) / 1e6,
    lagMaxMs: lag.max / 1e6,
    mainThreadBusy: elu.utilization,
    threadpoolWaitP50Ms: percentile(sortedWaits, 50),
    threadpoolWaitP99Ms: percentile(sortedWaits, 99),
  };
}

const pbkdf2Async = promisify(pbkdf2);

/** Every 5 ms, times a threadpool job that needs microseconds of work: the rest is queueing. */
function probeThreadpool(): { stop(): Promise<number[]> } {
  const waits: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await pbkdf2Async('probe', 'salt', 1, 16, 'sha256');
      waits.push(performance.now() - started);
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return waits;
    },
  };
}


async function eachLimited<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

function printTable(rows: CaseResult[]): void {
  const header = ['UV_THREADPOOL_SIZE', 'mode', 'images/s', 'loop lag p50 ms', 'p99 ms', 'max ms', 'main busy', 'uv wait p50 ms', 'p99 ms'];
  const body = rows.map((r) => [
    r.uv,
    r.mode,
    r.imagesPerSecond.toFixed(1),
    r.lagP50Ms.toFixed(1),
    r.lagP99Ms.toFixed(1),
    r.lagMaxMs.toFixed(1),
    `${(r.mainThreadBusy * 100).toFixed(0)} %`,
    r.threadpoolWaitP50Ms.toFixed(1),
    r.threadpoolWaitP99Ms.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}

// Last, so every module-level const above is initialised before the top-level await runs.
if (args.child) await child(args.child);
else await parent();
