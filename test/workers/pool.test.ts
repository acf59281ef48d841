import { expect } from 'chai';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { createWorkerPool, WorkerPoolClosedError, WorkerQueueFullError, WorkerTimeoutError } from '../../workers/pool.ts';
import { toErrorBody } from '../../services/errors.ts';
import type { WorkerPool } from '../../workers/pool.ts';
import type { ImageResult } from '../../workers/image.ts';
import type { TrackPoint } from '../../workers/geo.ts';

function photo(width: number, height: number): Promise<Buffer> {
  // Noise keeps the JPEG large and slow to decode, which the timeout and queue tests rely on.
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

function straightWalk(): TrackPoint[] {
  // 1.5 km at ~5 km/h with a little wobble; analysed properly in geo.test.ts, here it only has to travel.
  return Array.from({ length: 300 }, (_, i) => ({
    lat: 37.5665 + (i * 5 + Math.sin(i * 1.7) * 2) / 111_320,
    lng: 126.978 + Math.cos(i * 2.3) * 2 / 88_000,
    t: Date.UTC(2025, 4, 1) + i * 3600 + (i % 3) * 400,
    accuracy: 4 + (i % 5),
  }));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  return expect.fail('expected the promise to reject');
}

function expectImage(result: ImageResult): void {
  if (!result.ok) expect.fail(`expected an image, got ${JSON.stringify(result.error)}`);
}

describe('workers/pool', () => {
  let small: Buffer;
  let large: Buffer;
  const pools: WorkerPool[] = [];
  const newPool = (...args: Parameters<typeof createWorkerPool>): WorkerPool => {
    const pool = createWorkerPool(...args);
    pools.push(pool);
    return pool;
  };

  before(async () => {
    small = await photo(1200, 900);
    large = await photo(4000, 3000);
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('runs processImage and analyseTrack on worker threads', async () => {
    const pool = newPool({ size: 2 });
    const [image, track] = await Promise.all([pool.processImage({ bytes: small }), pool.analyseTrack({ points: straightWalk() })]);
    if (!image.ok) return expect.fail(JSON.stringify(image.error));
    expect(image.image).to.be.instanceOf(Uint8Array);
    expect([image.width, image.height]).to.deep.equal([675, 900]);
    const meta = await sharp(image.image).metadata();
    expect([meta.width, meta.height, meta.format]).to.deep.equal([675, 900, 'jpeg']);
    expect((await sharp(image.thumbnail).metadata()).width).to.equal(256);
    if (!track.ok) return expect.fail(JSON.stringify(track.error));
    expect(track.distanceM).to.be.within(1300, 1600);
    expect(track.verdict.valid).to.equal(true);
  });

  it('brings refusals back as results across the thread boundary', async () => {
    const pool = newPool({ size: 1 });
    const gif = await sharp({ create: { width: 600, height: 800, channels: 3, background: '#000' } }).gif().toBuffer();
    const image = await pool.processImage({ bytes: gif });
    expect(image).to.deep.include({ ok: false });
    if (image.ok) return;
    expect(image.error).to.include({ code: 'unsupported_format', field: 'file' });
    const track = await pool.analyseTrack({ points: [{ lat: 95, lng: 0, t: 0 }, { lat: 0, lng: 0, t: 1 }] });
    if (track.ok) return expect.fail('expected bad_track');
    expect(track.error).to.include({ code: 'bad_track', field: 'points[0].lat' });
  });

  it('moves the input bytes to the worker when asked, and only when it can', async () => {
    const pool = newPool({ size: 1 });
    const owned = new Uint8Array(small);
    expectImage(await pool.processImage({ bytes: owned }, { transfer: true }));
    expect(owned.byteLength).to.equal(0); // detached: the memory went to the worker, no copy made

    // sharp's output lives in native memory that cannot be moved; it is copied instead.
    const native = small;
    expectImage(await pool.processImage({ bytes: native }, { transfer: true }));
    expect(native.byteLength).to.be.above(0);

    const copied = new Uint8Array(small);
    expectImage(await pool.processImage({ bytes: copied }));
    expect(copied.byteLength).to.equal(small.byteLength);
  });

  it('refuses a task with WorkerQueueFullError once the queue is full', async () => {
    const pool = newPool({ size: 1, maxQueue: 1 });
    const running = pool.processImage({ bytes: large });
    const queued = pool.processImage({ bytes: large });
    const owned = new Uint8Array(small);
    const refused = await rejection(pool.processImage({ bytes: owned }, { transfer: true }));
    expect(refused).to.be.instanceOf(WorkerQueueFullError);
    expect(refused).to.include({ code: 'worker_queue_full', status: 503 });
    expect(toErrorBody(refused), 'a request meeting it is answered 503, not 500').to.deep.include({ status: 503, code: 'worker_queue_full', retryAfter: 1 });
    expect(owned.byteLength).to.equal(small.byteLength); // refused before anything was moved
    expect(await rejection(pool.analyseTrack({ points: straightWalk() }))).to.be.instanceOf(WorkerQueueFullError);
    expect(pool.stats()).to.include({ size: 1, running: 1, queueSize: 1 });
    expectImage(await running);
    expectImage(await queued);
    expectImage(await pool.processImage({ bytes: small })); // room again
  });

  it('rejects a slow task with WorkerTimeoutError and keeps serving', async () => {
    const pool = newPool({ size: 1, taskTimeoutMs: 5 });
    const err = await rejection(pool.processImage({ bytes: large }));
    expect(err).to.be.instanceOf(WorkerTimeoutError);
    expect(err).to.include({ code: 'worker_timeout', status: 503 });
    expect(err.message).to.contain('5 ms');
    // The stuck thread was terminated; a fresh one takes the next task.
    const track = await pool.analyseTrack({ points: straightWalk() }, { timeoutMs: 10_000 });
    expect(track.ok).to.equal(true);
  });

  it("passes the caller's own abort through as an AbortError, not a timeout", async () => {
    const pool = newPool({ size: 1 });
    const controller = new AbortController();
    const pending = pool.processImage({ bytes: large }, { signal: controller.signal });
    controller.abort();
    const err = await rejection(pending);
    expect(err).not.to.be.instanceOf(WorkerTimeoutError);
    expect(err.name).to.equal('AbortError');
  });

  it('close() lets accepted tasks finish, refuses new ones, then stops', async () => {
    const pool = newPool({ size: 1, maxQueue: 4 });
    const accepted = [pool.processImage({ bytes: large }), pool.processImage({ bytes: small }), pool.analyseTrack({ points: straightWalk() })];
    const closed = pool.close();
    const late = await rejection(pool.processImage({ bytes: small }));
    expect(late).to.be.instanceOf(WorkerPoolClosedError);
    expect(late).to.include({ code: 'worker_pool_closed' });
    await closed;
    const settled = await Promise.allSettled(accepted);
    expect(settled.map((s) => s.status)).to.deep.equal(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(pool.stats()).to.include({ completed: 3, running: 0, queueSize: 0 });
    expect(pool.close()).to.equal(closed); // idempotent
  });

  it('reports stats for a metrics gauge', async () => {
    const pool = newPool();
    const before = pool.stats();
    expect(before).to.deep.equal({ size: availableParallelism(), queueSize: 0, utilization: 0, completed: 0, running: 0 });
    await Promise.all([pool.analyseTrack({ points: straightWalk() }), pool.processImage({ bytes: small })]);
    const after = pool.stats();
    expect(after.completed).to.equal(2);
    expect(after.running).to.equal(0);
    expect(after.utilization).to.be.within(0, 1);
  });
});
