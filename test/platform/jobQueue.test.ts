import { expect } from 'chai';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { createLogger } from '../../server/logger.ts';
import { createJobQueue, type JobQueue, type JobQueueOptions } from '../../services/queue/jobQueue.ts';
import { testState } from '../state.ts';

// Each instance stands for a separate node: its own pool, supervisor and workers, one shared schema.
describe('platform: durable job queue (pg-boss)', function () {
  const logger = createLogger({ level: 'silent', pretty: false, nodeId: 'queue-test' });
  const schema = 'pgboss';
  let queues: JobQueue[] = [];
  let db: pg.Client;
  let seq = 0;
  const queueName = (what: string) => `test-${what}-${++seq}`;

  async function newQueue(overrides: Partial<JobQueueOptions> = {}): Promise<JobQueue> {
    const queue = createJobQueue({ connectionString: testState.databaseUrl, schema, logger, poolMax: 3, pollingIntervalSeconds: 0.5, superviseIntervalSeconds: 1, ...overrides });
    queues.push(queue);
    await queue.start();
    return queue;
  }

  async function jobRow(id: string): Promise<{ state: string; retry_count: number }> {
    const { rows } = await db.query(`select state, retry_count from ${schema}.job where id = $1`, [id]);
    return rows[0];
  }

  async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function counter(target: number) {
    let resolve!: () => void;
    const reached = new Promise<void>((r) => (resolve = r));
    const seen = new Map<string, number>();
    return {
      reached,
      seen,
      hit(id: string) {
        seen.set(id, (seen.get(id) ?? 0) + 1);
        if ([...seen.values()].reduce((a, b) => a + b, 0) >= target) resolve();
      },
    };
  }

  before(async () => {
    db = new pg.Client({ connectionString: testState.databaseUrl });
    await db.connect();
  });
  after(async () => {
    await db.end();
  });
  afterEach(async () => {
    await Promise.all(queues.map((q) => q.stop({ timeoutMs: 1000 })));
    queues = [];
  });

  it('handles a sent job once, with its data', async () => {
    const queue = await newQueue();
    const name = queueName('once');
    const handled: { data: unknown; id: string }[] = [];
    const done = counter(1);
    await queue.define<{ n: number }>(name, async (data, ctx) => {
      handled.push({ data, id: ctx.id });
      done.hit(ctx.id);
    }, { expireInSeconds: 5 });
    const id = await queue.send(name, { n: 42 });
    await done.reached;
    await until('completion', () => jobRow(id!), (r) => r.state === 'completed');
    expect(handled).to.deep.equal([{ data: { n: 42 }, id }]);
  });

  it('applies definitions made before start()', async () => {
    const queue = createJobQueue({ connectionString: testState.databaseUrl, schema, logger, poolMax: 3, pollingIntervalSeconds: 0.5, superviseIntervalSeconds: 1 });
    queues.push(queue);
    const name = queueName('early');
    const done = counter(1);
    await queue.define(name, async (_data, ctx) => done.hit(ctx.id), { expireInSeconds: 5 });
    await queue.start();
    await queue.send(name, {});
    await done.reached;
  });

  it('retries a throwing handler up to retryLimit, then fails the job', async () => {
    const queue = await newQueue();
    const name = queueName('retry');
    const attempts: number[] = [];
    await queue.define(name, async (_data, ctx) => {
      attempts.push(ctx.retryCount);
      throw new Error('boom');
    }, { expireInSeconds: 5, retryLimit: 2, retryDelaySeconds: 0 });
    const id = await queue.send(name, {});
    const row = await until('failure', () => jobRow(id!), (r) => r.state === 'failed');
    expect(attempts).to.deep.equal([0, 1, 2]);
    expect(row.retry_count).to.equal(2);
  });

  it('runs a job again on another node after the node holding it died (expiry → retry)', async function () {
    this.timeout(20_000);
    const name = queueName('dead');
    // The dying node: fetches the job (now active, claimed by it) and never settles it. A raw pg-boss
    // with no supervisor and no workers, so stop() hands nothing back: the row stays active exactly as
    // a killed process leaves it.
    const dying = new PgBoss({ connectionString: testState.databaseUrl, schema, max: 2, supervise: false, schedule: false });
    dying.on('error', () => undefined);
    await dying.start();
    await dying.createQueue(name, { expireInSeconds: 1, retryLimit: 1 });
    const id = await dying.send(name, { photo: 'a' });
    const fetched = await dying.fetch(name);
    expect(fetched.map((j) => j.id)).to.deep.equal([id]);
    await dying.stop({ graceful: false });
    expect((await jobRow(id!)).state).to.equal('active');

    const survivor = await newQueue();
    const runs: { id: string; retryCount: number; data: unknown }[] = [];
    const done = counter(1);
    await survivor.define(name, async (data, ctx) => {
      runs.push({ id: ctx.id, retryCount: ctx.retryCount, data });
      done.hit(ctx.id);
    }, { expireInSeconds: 1, retryLimit: 1 });
    await done.reached;
    await until('completion', () => jobRow(id!), (r) => r.state === 'completed');
    expect(runs).to.deep.equal([{ id, retryCount: 1, data: { photo: 'a' } }]);
  });

  it('aborts the signal of a handler that outlives expireInSeconds and retries the job', async function () {
    this.timeout(15_000);
    const queue = await newQueue();
    const name = queueName('overrun');
    const attempts: number[] = [];
    let aborted = false;
    const done = counter(2);
    await queue.define(name, async (_data, ctx) => {
      attempts.push(ctx.retryCount);
      if (ctx.retryCount === 0) {
        // The first attempt hangs until pg-boss gives up on it, and stops when told to.
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = ctx.signal.aborted;
      }
      done.hit(ctx.id);
    }, { expireInSeconds: 1, retryLimit: 1 });
    const id = await queue.send(name, {});
    await done.reached;
    await until('completion', () => jobRow(id!), (r) => r.state === 'completed');
    expect(aborted).to.equal(true);
    expect(attempts).to.deep.equal([0, 1]);
  });

  it('two nodes working one queue handle each of 20 jobs exactly once, never two at once', async function () {
    this.timeout(20_000);
    const name = queueName('shared');
    const done = counter(20);
    const running = new Set<string>();
    let overlaps = 0;
    const byNode: Record<string, number> = { a: 0, b: 0 };
    const handler = (node: string) => async (_data: unknown, ctx: { id: string }) => {
      if (running.has(ctx.id)) overlaps++;
      running.add(ctx.id);
      await new Promise((r) => setTimeout(r, 30));
      running.delete(ctx.id);
      byNode[node]++;
      done.hit(ctx.id);
    };
    const a = await newQueue();
    const b = await newQueue();
    // Both define before any job exists, so both are polling when the jobs land.
    await Promise.all([
      a.define(name, handler('a'), { expireInSeconds: 10, concurrency: 3 }),
      b.define(name, handler('b'), { expireInSeconds: 10, concurrency: 3 }),
    ]);
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => a.send(name, { i })));
    await done.reached;
    // Settled jobs could still surface a duplicate run: wait until all are completed, then count.
    await until('all completed', async () => (await db.query(`select count(*)::int as n from ${schema}.job where name = $1 and state = 'completed'`, [name])).rows[0].n, (n) => n === 20);
    expect(done.seen.size).to.equal(20);
    expect([...done.seen.keys()].sort()).to.deep.equal([...ids].sort());
    expect([...done.seen.values()].every((n) => n === 1)).to.equal(true);
    expect(overlaps).to.equal(0);
    expect(byNode.a + byNode.b).to.equal(20);
  });

  it('dedupes sends by singletonKey on an exclusive queue, per key', async () => {
    const queue = await newQueue();
    const name = queueName('single');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const done = counter(2);
    await queue.define(name, async (_data, ctx) => {
      await gate;
      done.hit(ctx.id);
    }, { expireInSeconds: 5, policy: 'exclusive', concurrency: 2 });
    const first = await queue.send(name, { v: 1 }, { singletonKey: 'job-1' });
    const again = await queue.send(name, { v: 2 }, { singletonKey: 'job-1' });
    const other = await queue.send(name, { v: 3 }, { singletonKey: 'job-2' });
    expect(first).to.be.a('string');
    expect(again).to.equal(null);
    expect(other).to.be.a('string').and.not.equal(first);
    // Still deduped once the first is active, not only while it waits.
    await until('first active', () => jobRow(first!), (r) => r.state === 'active');
    expect(await queue.send(name, { v: 4 }, { singletonKey: 'job-1' })).to.equal(null);
    release();
    await done.reached;
    expect([...done.seen.keys()].sort()).to.deep.equal([first, other].sort());
  });

  it('refuses to redefine a queue with another policy', async () => {
    const queue = await newQueue();
    const name = queueName('policy');
    await queue.define(name, async () => undefined, { expireInSeconds: 5, policy: 'stately' });
    let error: unknown;
    try {
      await queue.define(name, async () => undefined, { expireInSeconds: 5, policy: 'standard' });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/policy stately/);
  });
});
