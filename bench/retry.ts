// What the resilience policy costs a call that does not fail: ns per call through the LLM gateway's
// hand-written bulkhead + circuit (services/llm) against cockatiel's bulkhead + circuitBreaker, and
// through the shared retry loop (integrations/retry.ts, cockatiel's retry() under it) against a
// plain for-loop. The attempt is an async function that resolves at once, so what is left is the
// policy's own overhead: the figure to hold against the relay budget (one delta < 1 ms at p50,
// bench/coach.ts). The policy runs once per call, not per delta.
//
// Targets run in interleaved rounds (the order rotates) so drift on a shared machine hits them all;
// the table shows each one's median over the rounds and the range.
//
//   node bench/retry.ts [--iterations 200000] [--rounds 5]
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConsecutiveBreaker, bulkhead, circuitBreaker, handleWhen, retry, wrap, ExponentialBackoff } from 'cockatiel';
import { backoffDelayMs, retryWithBackoff, type RetryHooks, type RetrySchedule } from '../integrations/retry.ts';
import { createBulkhead } from '../services/llm/bulkhead.ts';
import { createCircuit } from '../services/llm/circuit.ts';
import { percentile } from './support.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
  },
});
const ITERATIONS = Number(args.iterations);
const ROUNDS = Number(args.rounds);

class Retryable extends Error {}
const isRetryable = (err: unknown) => err instanceof Retryable;
const attempt = async () => 42;
const signal = new AbortController().signal;

// The gateway's settings: a busy module's limits, the circuit's defaults, its retry schedule.
const LIMITS = { concurrency: 200, queue: 200 };
const schedule: RetrySchedule = { retries: 3, baseDelayMs: 1000, maxDelayMs: 8000, jitter: 0.2 };
const hooks: RetryHooks = { retryable: isRetryable, signal };

// Hand-written, as the gateway uses them: a slot, the circuit's say, the attempt, the outcome.
const ownBulkhead = createBulkhead({ ...LIMITS, module: 'bench', queueTimeoutMs: 10_000 });
const ownCircuit = createCircuit({ failureThreshold: 5, cooldownMs: 30_000 });
async function handWritten(): Promise<number> {
  const release = await ownBulkhead.acquire(signal);
  try {
    if (!ownCircuit.allow()) throw new Error('open');
    const value = await attempt();
    ownCircuit.success();
    return value;
  } finally {
    release();
  }
}

const cockatielPair = wrap(
  bulkhead(LIMITS.concurrency, LIMITS.queue),
  circuitBreaker(handleWhen(isRetryable), { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
);
const cockatielAll = wrap(
  bulkhead(LIMITS.concurrency, LIMITS.queue),
  circuitBreaker(handleWhen(isRetryable), { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
  retry(handleWhen(isRetryable), { maxAttempts: 3, backoff: new ExponentialBackoff({ initialDelay: 1000, maxDelay: 8000 }) }),
);

// The same loop as retryWithBackoff without cockatiel: what cockatiel's retry() adds on top.
async function plainLoop<T>(s: RetrySchedule, fn: (n: number) => Promise<T>, h: RetryHooks): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await fn(n);
    } catch (err) {
      const willRetry = n <= s.retries && !h.signal?.aborted && h.retryable(err, n);
      await h.onFailure?.(err, n, willRetry);
      if (!willRetry) throw err;
      await sleep(backoffDelayMs(s, n - 1, h.retryAfterMs?.(err)), undefined, { signal: h.signal });
    }
  }
}

type Target = { name: string; run: () => Promise<unknown> };
const targets: Target[] = [
  { name: 'bare: await attempt()', run: attempt },
  { name: 'bulkhead + circuit, hand-written (services/llm)', run: handWritten },
  { name: 'bulkhead + circuit, cockatiel wrap()', run: () => cockatielPair.execute(attempt, signal) },
  { name: 'retry loop, plain for-loop', run: () => plainLoop(schedule, attempt, hooks) },
  { name: 'retry loop, retryWithBackoff (cockatiel retry())', run: () => retryWithBackoff(schedule, attempt, hooks) },
  { name: 'gateway path now: hand-written pair + retryWithBackoff', run: () => retryWithBackoff(schedule, handWritten, hooks) },
  { name: 'all cockatiel: wrap(bulkhead, circuitBreaker, retry)', run: () => cockatielAll.execute(attempt, signal) },
];

async function nsPerCall(run: () => Promise<unknown>, iterations: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await run();
  return Number(process.hrtime.bigint() - started) / iterations;
}

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
console.log(`${ITERATIONS} sequential calls per target and round, ${ROUNDS} interleaved rounds after a warm-up; no call fails.`);

for (const t of targets) await nsPerCall(t.run, Math.min(ITERATIONS, 50_000));

const figures = new Map<string, number[]>(targets.map((t) => [t.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = targets.map((_, i) => targets[(i + round) % targets.length]);
  for (const t of order) figures.get(t.name)!.push(await nsPerCall(t.run, ITERATIONS));
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const bare = median(figures.get(targets[0].name)!);
const w = Math.max(...targets.map((t) => t.name.length));
console.log();
console.log(`${'target'.padEnd(w)}  ${'ns/call'.padStart(8)}  ${'range'.padStart(13)}  ${'over bare'.padStart(9)}  of a 1 ms relay budget`);
for (const t of targets) {
  const xs = figures.get(t.name)!;
  const m = median(xs);
  const range = `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
  const over = m - bare;
  console.log(`${t.name.padEnd(w)}  ${Math.round(m).toString().padStart(8)}  ${range.padStart(13)}  ${Math.round(over).toString().padStart(9)}  ${((over / 1e6) * 100).toFixed(3)} %`);
}
