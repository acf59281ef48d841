import { expect } from 'chai';
import sharp from 'sharp';
import { createOfflineImages } from '../../integrations/images/offline.ts';
import { createReplicateClient, ImageProviderError, REPLICATE_RETRY, type ReplicateOptions } from '../../integrations/images/replicate.ts';
import { backoffDelayMs } from '../../integrations/retry.ts';
import { startFakeReplicate, type FakeReplicate } from '../fakes/replicate.ts';

const VERSION = 'a'.repeat(64);
// Millisecond steps, so retries do not slow the suite; the production schedule is checked apart.
const FAST = { retries: 3, baseDelayMs: 10, maxDelayMs: 2_000, jitter: 0.1 };

// A deterministic photo-like input: a gradient with some structure, as JPEG.
async function photo(width = 96, height = 72): Promise<Uint8Array> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x ^ y) * 7) & 0xff;
    }
  }
  return new Uint8Array(await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('rizz images: the Replicate client against a wire-level fake', () => {
  let fake: FakeReplicate;
  let image: Uint8Array;
  before(async () => {
    fake = await startFakeReplicate();
    image = await photo();
  });
  after(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.pollsToFinish = 2;
  });

  const client = (o: Partial<ReplicateOptions> = {}) =>
    createReplicateClient({ apiToken: fake.token, model: VERSION, baseUrl: fake.apiUrl, pollIntervalMs: 5, timeoutMs: 2_000, retry: FAST, ...o });

  it('makes three images with one prompt and three seeds: create, poll to succeeded, download', async () => {
    const replicate = client();
    const results = await Promise.all([11, 22, 33].map((seed) => replicate.generate({ prompt: 'a confident portrait', image, seed })));
    for (const [i, seed] of [11, 22, 33].entries()) {
      const r = results[i];
      expect(r).to.include({ provider: 'replicate', offline: false });
      expect(r.contentTypes).to.deep.equal(['image/png']);
      expect(Buffer.from(r.images[0]).equals(await fake.imageFor(seed))).to.equal(true);
      expect(fake.predictions.get(r.predictionId)?.status).to.equal('succeeded');
      expect(Buffer.from(image).equals(fake.inputImages.get(r.predictionId)!)).to.equal(true);
    }
    expect(new Set(results.map((r) => r.predictionId)).size).to.equal(3);
    const creates = fake.requests.filter((r) => r.route === 'create');
    expect(creates).to.have.length(3);
    for (const c of creates) {
      expect(c.path).to.equal('/v1/predictions');
      expect(c.headers.authorization).to.equal(`Bearer ${fake.token}`);
      expect(c.json.version).to.equal(VERSION);
      expect(c.json.input.prompt).to.equal('a confident portrait');
      // A small photo travels as a data URL: nothing is uploaded.
      expect(c.json.input.image).to.match(/^data:image\/jpeg;base64,/);
    }
    expect([...creates.map((c) => c.json.input.seed)].sort()).to.deep.equal([11, 22, 33]);
    expect(fake.count('files')).to.equal(0);
    // Polled through processing to succeeded; the CDN download carried no token.
    expect(fake.count('get')).to.equal(6);
    for (const d of fake.requests.filter((r) => r.route === 'download')) expect(d.headers.authorization).to.equal(undefined);
  });

  it('uploads a large photo through the Files API, runs an official model by name, and deletes the file afterwards', async () => {
    const r = await client({ model: 'black-forest-labs/flux-kontext-pro', imageInput: 'file', inputFields: { image: 'input_image' }, extraInput: { output_format: 'png' } }).generate({ prompt: 'p', image, seed: 5 });
    expect(Buffer.from(r.images[0]).equals(await fake.imageFor(5))).to.equal(true);
    const create = fake.requests.find((q) => q.route === 'create')!;
    expect(create.path).to.equal('/v1/models/black-forest-labs/flux-kontext-pro/predictions');
    expect(create.json.version).to.equal(undefined);
    expect(create.json.input).to.include({ output_format: 'png', prompt: 'p', seed: 5 });
    expect(create.json.input.input_image).to.match(/\/v1\/files\/\w+$/);
    expect(fake.count('files')).to.equal(1);
    expect(fake.count('delete_file')).to.equal(1);
    expect(fake.files.size).to.equal(0);
  });

  it('asks Replicate to hold the create call with Prefer: wait and then needs no polling', async () => {
    const r = await client({ preferWaitSeconds: 5 }).generate({ prompt: 'p', image, seed: 1 });
    expect(Buffer.from(r.images[0]).equals(await fake.imageFor(1))).to.equal(true);
    expect(fake.requests.find((q) => q.route === 'create')!.headers.prefer).to.equal('wait=5');
    expect(fake.count('get')).to.equal(0);
  });

  it('retries transient failures and resumes the same prediction rather than paying for a new one', async () => {
    fake.failNext('create', 1, 500);
    fake.failNext('get', 1, 503);
    fake.failNext('download', 1, 502);
    const r = await client().generate({ prompt: 'p', image, seed: 7 });
    expect(Buffer.from(r.images[0]).equals(await fake.imageFor(7))).to.equal(true);
    // Two create calls (the first refused), but one prediction created, polled and downloaded again.
    expect(fake.count('create')).to.equal(2);
    expect([...fake.predictions.values()].filter((p) => p.input.seed === 7)).to.have.length(1);
    expect(fake.count('download')).to.equal(2);
  });

  it('honours Retry-After on a 429, on create and while polling', async () => {
    fake.failNext('create', 1, 429, 1);
    const started = Date.now();
    await client().generate({ prompt: 'p', image, seed: 8 });
    expect(Date.now() - started).to.be.at.least(950);
    fake.requests.length = 0;
    fake.failNext('get', 1, 429, 1);
    const polled = Date.now();
    await client().generate({ prompt: 'p', image, seed: 9 });
    expect(Date.now() - polled).to.be.at.least(950);
    expect(fake.count('create')).to.equal(1);
  });

  it('gives up after three retries with a typed, retryable error', async () => {
    fake.failNext('create', 4, 503);
    const err = await rejection(client().generate({ prompt: 'p', image, seed: 1 }));
    expect(err).to.be.instanceOf(ImageProviderError);
    expect(err).to.include({ code: 'provider_unavailable', status: 503, retryable: true, service: 'replicate' });
    expect(fake.count('create')).to.equal(4);
  });

  it('surfaces a failed prediction as prediction_failed, without retrying it', async () => {
    fake.outcomes('failed');
    const err = await rejection(client().generate({ prompt: 'p', image, seed: 1 }));
    expect(err).to.be.instanceOf(ImageProviderError);
    expect(err).to.include({ code: 'prediction_failed', retryable: false });
    expect(err.message).to.contain('CUDA out of memory');
    expect(fake.predictions.get(err.predictionId)?.status).to.equal('failed');
    expect(fake.count('create')).to.equal(1);
  });

  it('refuses a bad token at once', async () => {
    const err = await rejection(client({ apiToken: 'r8_wrong' }).generate({ prompt: 'p', image, seed: 1 }));
    expect(err).to.include({ code: 'unauthorized', status: 401, retryable: false });
    expect(fake.count('create')).to.equal(1);
  });

  it('cancels a prediction that outlives maxWaitMs and tries a new one', async () => {
    fake.outcomes('stuck');
    const r = await client({ maxWaitMs: 150 }).generate({ prompt: 'p', image, seed: 3 });
    expect(Buffer.from(r.images[0]).equals(await fake.imageFor(3))).to.equal(true);
    const mine = [...fake.predictions.values()].filter((p) => p.input.seed === 3 && fake.requests.some((q) => q.path.includes(p.id)));
    expect(mine.map((p) => p.status).sort()).to.deep.equal(['canceled', 'succeeded']);
    expect(fake.count('cancel')).to.equal(1);
  });

  it('caps output size and refuses outputs that are not images', async () => {
    fake.outcomes('huge', 'not_image');
    const huge = await rejection(client({ maxImageBytes: 1024 * 1024 }).generate({ prompt: 'p', image, seed: 1 }));
    expect(huge).to.include({ code: 'output_too_large', retryable: false });
    const html = await rejection(client().generate({ prompt: 'p', image, seed: 1 }));
    expect(html).to.include({ code: 'output_invalid', retryable: false });
  });

  it('stops at the caller\'s signal and cancels the running prediction', async () => {
    fake.outcomes('stuck');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('job canceled')), 100);
    const err = await rejection(client().generate({ prompt: 'p', image, seed: 4, signal: ac.signal }));
    expect(err.message).to.equal('job canceled');
    const mine = [...fake.predictions.values()].filter((p) => p.input.seed === 4);
    expect(mine).to.have.length(1);
    expect(mine[0].status).to.equal('canceled');
    expect(fake.requests.filter((q) => q.route === 'cancel').map((q) => q.path)).to.deep.equal([`/v1/predictions/${mine[0].id}/cancel`]);
  });

  it('forget(): cancels a running prediction, reports a finished one, and tolerates unknown ids', async () => {
    fake.outcomes('stuck');
    const replicate = client({ maxWaitMs: 10_000 });
    const running = rejection(replicate.generate({ prompt: 'p', image, seed: 42 }));
    let id: string | undefined;
    while (!id) {
      await new Promise((r) => setTimeout(r, 10));
      id = [...fake.predictions.values()].find((p) => p.input.seed === 42)?.id;
    }
    expect(await replicate.forget(id)).to.deep.equal({ predictionId: id, outcome: 'canceled' });
    // The generation sees its prediction canceled and does not retry it.
    expect(await running).to.include({ code: 'prediction_canceled', retryable: false });

    const done = await replicate.generate({ prompt: 'p', image, seed: 43 });
    expect(await replicate.forget(done.predictionId)).to.deep.equal({ predictionId: done.predictionId, outcome: 'finished' });
    expect(await replicate.forget('nosuchprediction')).to.deep.equal({ predictionId: 'nosuchprediction', outcome: 'not_found' });
    expect(await replicate.forget('../../etc')).to.deep.equal({ predictionId: '../../etc', outcome: 'not_found' });
    fake.failNext('cancel', 1, 500);
    expect((await replicate.forget(done.predictionId)).outcome).to.equal('finished');
  });

  it('waits 5 s, 10 s, 20 s between attempts by default', () => {
    const half = { ...REPLICATE_RETRY, random: () => 0.5 };
    expect([0, 1, 2].map((i) => backoffDelayMs(half, i))).to.deep.equal([5_000, 10_000, 20_000]);
    expect(REPLICATE_RETRY.retries).to.equal(3);
    // Within ±10 % either way.
    expect(backoffDelayMs({ ...REPLICATE_RETRY, random: () => 0 }, 0)).to.equal(4_500);
    expect(backoffDelayMs({ ...REPLICATE_RETRY, random: () => 1 }, 2)).to.equal(22_000);
  });
});

describe('rizz images: the offline driver', () => {
  const offline = createOfflineImages();

  it('is deterministic per input and seed, different across seeds, and marked offline', async () => {
    const image = await photo();
    const [a1, a2, b, c] = await Promise.all([1, 1, 2, 3].map((seed) => offline.generate({ prompt: 'p', image, seed })));
    for (const r of [a1, b, c]) expect(r).to.include({ provider: 'offline', offline: true });
    expect(a1.predictionId).to.match(/^offline-[0-9a-f]{24}$/);
    expect(a1.predictionId).to.equal(a2.predictionId);
    expect(Buffer.from(a1.images[0]).equals(Buffer.from(a2.images[0]))).to.equal(true);
    const distinct = new Set([a1, b, c].map((r) => Buffer.from(r.images[0]).toString('base64')));
    expect(distinct.size).to.equal(3);
    expect(new Set([a1, b, c].map((r) => r.predictionId)).size).to.equal(3);
    for (const r of [a1, b, c]) {
      const meta = await sharp(r.images[0]).metadata();
      expect(meta.format).to.equal('png');
      expect(meta.width).to.be.within(Math.round(96 * 0.8), 96);
      expect(meta.height).to.be.within(Math.round(72 * 0.8), 72);
    }
    expect(await offline.forget(a1.predictionId)).to.deep.equal({ predictionId: a1.predictionId, outcome: 'none' });
  });

  it('refuses an input that is not an image with a typed error', async () => {
    const err = await rejection(offline.generate({ prompt: 'p', image: new TextEncoder().encode('not an image'), seed: 1 }));
    expect(err).to.include({ code: 'invalid_input', retryable: false });
  });
});
