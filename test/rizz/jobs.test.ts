// A Find My Rizz job from payment to processing, offline (the sandbox checkout): the job token, the
// allowed moves (409 otherwise), the phone kept hashed and sealed, the selfie checked and cropped.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { expect } from 'chai';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { moduleServices } from '../../server/context.ts';
import { rizzModule } from '../../modules/rizz/index.ts';
import { createTestClock } from '../../services/time.ts';
import { startFakePortOne, type FakePortOne } from '../fakes/portone.ts';
import { closeAllSockets, connectSocket, connected, nextEvent, redisUrl, request, startNode, stopAllNodes } from '../helpers.ts';

describe('rizz: a job from payment to processing', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  const jobCall = (method: string, path: string, token: string, body?: unknown) => request(node, method, path, { headers: { 'x-job-token': token }, body });
  const photo = (w: number, h: number, format: 'jpeg' | 'png' = 'jpeg') =>
    sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 150, b: 120 } } })[format]().toBuffer();
  const upload = async (jobId: string, token: string, bytes: Buffer, type = 'image/jpeg') => {
    const res = await fetch(`${node.url}/jobs/${jobId}/upload`, { method: 'POST', headers: { 'x-job-token': token, 'content-type': type }, body: new Uint8Array(bytes) });
    return { status: res.status, body: (await res.json()) as { status?: string; code?: string; errors?: { field: string }[] } };
  };
  async function paidJob() {
    const started = await request(node, 'POST', '/payments/initialize');
    expect(started.status, JSON.stringify(started.body)).to.equal(201);
    const { job, jobToken, order } = started.body;
    expect(order).to.include({ amount: 9900, module: 'rizz', status: 'pending' });
    const approved = await fetch(`${node.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    expect(approved.status).to.equal(200);
    return { jobId: job.id as string, token: jobToken as string, orderId: order.orderId as string };
  }

  it('pays, registers the phone, takes the selfie: each move once, in order, others 409', async () => {
    const started = await request(node, 'POST', '/payments/initialize');
    const { job, jobToken } = started.body;
    expect(job).to.include({ status: 'pending_payment', phoneRegistered: false });
    expect(job.secondsLeft).to.be.within(86_390, 86_400);
    expect((await jobCall('POST', `/jobs/${job.id}/phone`, jobToken, { phone: '010-1234-5678' })).status).to.equal(409);
    const { jobId, token } = await paidJob();
    expect((await jobCall('GET', `/jobs/${jobId}`, token)).body.status).to.equal('pending_phone');
    const phoned = await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '010-1234-5678' });
    expect(phoned.body).to.include({ status: 'pending_upload', phoneRegistered: true });
    expect((await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '010-1234-5678' })).body.code).to.equal('invalid_transition');
    const [row] = await node.ctx.db.orm.em.fork().execute<{ phone_hash: string; phone_sealed: string }[]>('select phone_hash, phone_sealed from rizz_jobs where id = ?', [jobId]);
    expect(row.phone_hash).to.equal(node.ctx.personalData.hash('+821012345678'));
    expect(node.ctx.personalData.decrypt(row.phone_sealed)).to.equal('+821012345678');
    const uploaded = await upload(jobId, token, await photo(900, 1200));
    expect(uploaded.status, JSON.stringify(uploaded.body)).to.equal(200);
    expect(uploaded.body.status).to.equal('processing');
    const files = await node.ctx.db.orm.em.fork().execute<{ kind: string; width: number; height: number }[]>('select kind, width, height from rizz_job_files where job_id = ? order by kind', [jobId]);
    expect(files).to.deep.equal([{ kind: 'crop', width: 900, height: 1200 }, { kind: 'original', width: 900, height: 1200 }]);
  });

  it('pushes every move of a job to the sockets that connected to /rizz with its token, and refuses other tokens', async () => {
    const started = await request(node, 'POST', '/payments/initialize');
    const { job, jobToken, order } = started.body;
    const page = connectSocket(node, '/rizz', { jobId: job.id, token: jobToken });
    await connected(page);
    const paidEvent = nextEvent<any>(page, 'job.updated');
    await fetch(`${node.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    expect(await paidEvent).to.include({ id: job.id, status: 'pending_phone' });
    const phoned = nextEvent<any>(page, 'job.updated');
    await jobCall('POST', `/jobs/${job.id}/phone`, jobToken, { phone: '010-2222-3333' });
    expect(await phoned).to.include({ status: 'pending_upload', phoneRegistered: true });
    const stranger = connectSocket(node, '/rizz', { jobId: job.id, token: 'not-the-token' });
    const refused = await new Promise<{ data?: { code: string } }>((resolve) => stranger.once('connect_error', resolve));
    expect(refused.data?.code).to.equal('invalid_job_token');
    const malformed = connectSocket(node, '/rizz', { jobId: 'x' });
    expect((await new Promise<{ data?: { code: string } }>((resolve) => malformed.once('connect_error', resolve))).data?.code).to.equal('validation_failed');
  });

  it('authorises by the job token only, and refuses bad photos with 4xx, storing nothing', async () => {
    const { jobId, token } = await paidJob();
    const other = await paidJob();
    expect((await request(node, 'GET', `/jobs/${jobId}`)).status).to.equal(401);
    expect((await jobCall('GET', `/jobs/${jobId}`, other.token)).status).to.equal(401);
    expect((await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '02-123-4567' })).status).to.equal(400);
    await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '+82 10 9876 5432' });
    const cases: [Buffer, string, string][] = [
      [await photo(900, 1200, 'png'), 'image/jpeg', 'format_mismatch'], // a PNG renamed JPEG
      [await photo(300, 300), 'image/jpeg', 'too_small'],
      [Buffer.from('not a photo'), 'image/jpeg', 'unsupported_format'],
    ];
    for (const [bytes, type, code] of cases) {
      const res = await upload(jobId, token, bytes, type);
      expect(res.status, code).to.equal(400);
      expect(res.body.code).to.equal(code);
      expect(res.body.errors![0].field).to.equal('file');
    }
    const bomb = await upload(jobId, token, pngDeclaring(60_000, 60_000), 'image/png');
    expect(bomb.status, 'a decompression bomb').to.equal(400);
    expect(bomb.body.code).to.equal('too_many_pixels');
    const huge = await fetch(`${node.url}/jobs/${jobId}/upload`, { method: 'POST', headers: { 'x-job-token': token, 'content-type': 'image/jpeg' }, body: new Uint8Array(15 * 1024 * 1024) });
    expect(huge.status).to.equal(413);
    expect((await node.ctx.db.orm.em.fork().execute<{ n: string }[]>('select count(*) as n from rizz_job_files where job_id = ?', [jobId]))[0].n).to.equal('0');
    expect((await jobCall('GET', `/jobs/${jobId}`, token)).body.status).to.equal('pending_upload');
  });

  it('takes the selfie as the `file` field of a form, naming the field when the form is wrong', async () => {
    const { jobId, token } = await paidJob();
    await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '010-3333-4444' });
    const form = (parts: [string, Blob | string][]) => {
      const f = new FormData();
      for (const [name, value] of parts) {
        if (typeof value === 'string') f.append(name, value);
        else f.append(name, value, 'selfie.jpg');
      }
      return fetch(`${node.url}/jobs/${jobId}/upload`, { method: 'POST', headers: { 'x-job-token': token }, body: f });
    };
    const noFile = await form([['note', 'hello']]);
    expect(noFile.status).to.equal(400);
    expect(((await noFile.json()) as { errors: { field: string }[] }).errors[0].field).to.equal('file');
    const broken = await fetch(`${node.url}/jobs/${jobId}/upload`, { method: 'POST', headers: { 'x-job-token': token, 'content-type': 'multipart/form-data; boundary=zzz' }, body: 'not a form' });
    expect(broken.status).to.equal(400);
    const renamed = await form([['file', new Blob([new Uint8Array(await photo(900, 1200, 'png'))], { type: 'image/jpeg' })]]);
    expect(((await renamed.json()) as { code: string }).code).to.equal('format_mismatch');
    const ok = await form([['file', new Blob([new Uint8Array(await photo(900, 1200, 'png'))], { type: 'image/png' })]]);
    expect(ok.status).to.equal(200);
    expect(((await ok.json()) as { status: string }).status).to.equal('processing');
    const files = await node.ctx.db.orm.em.fork().execute<{ kind: string; content_type: string }[]>('select kind, content_type from rizz_job_files where job_id = ? order by kind', [jobId]);
    expect(files).to.deep.equal([{ kind: 'crop', content_type: 'image/jpeg' }, { kind: 'original', content_type: 'image/png' }]);
  });

  it('takes the selfie by a presigned PUT, checks it as an upload, and keeps no copy of the upload object', async () => {
    const { jobId, token } = await paidJob();
    expect((await jobCall('POST', `/jobs/${jobId}/upload-url`, token, { contentType: 'image/jpeg' })).body.code, 'before the phone').to.equal('invalid_transition');
    await jobCall('POST', `/jobs/${jobId}/phone`, token, { phone: '010-3333-5555' });
    expect((await jobCall('POST', `/jobs/${jobId}/upload-url`, token, { contentType: 'image/gif' })).body.errors[0].field).to.equal('contentType');
    const put = async (bytes: Buffer) => {
      const target = (await jobCall('POST', `/jobs/${jobId}/upload-url`, token, { contentType: 'image/jpeg' })).body;
      expect(target).to.include({ method: 'PUT', maxBytes: 10 * 1024 * 1024 });
      const url = new URL(target.url); // the node's public URL names no test port
      const res = await fetch(`${node.url}${url.pathname}${url.search}`, { method: 'PUT', headers: target.headers, body: new Uint8Array(bytes) });
      expect(res.status, await res.text()).to.be.within(200, 299);
      return target.uploadKey as string;
    };
    // Nothing uploaded yet, someone else's key, a key outside the job: each 400 naming uploadKey.
    const fresh = (await jobCall('POST', `/jobs/${jobId}/upload-url`, token, { contentType: 'image/jpeg' })).body.uploadKey;
    for (const key of [fresh, `rizz/jobs/${crypto.randomUUID()}/incoming/${crypto.randomUUID()}.jpg`, `rizz/jobs/${jobId}/../x.jpg`]) {
      const res = await jobCall('POST', `/jobs/${jobId}/uploaded`, token, { uploadKey: key });
      expect(res.status, key).to.equal(400);
      expect(res.body.errors[0].field).to.equal('uploadKey');
    }
    const tooSmall = await put(await photo(300, 300));
    const refused = await jobCall('POST', `/jobs/${jobId}/uploaded`, token, { uploadKey: tooSmall });
    expect(refused.body.code).to.equal('too_small');
    expect(await node.ctx.storage.stat(tooSmall).then(() => 'kept', () => 'deleted')).to.equal('deleted');
    const good = await put(await photo(1200, 1200));
    const taken = await jobCall('POST', `/jobs/${jobId}/uploaded`, token, { uploadKey: good });
    expect(taken.status, JSON.stringify(taken.body)).to.equal(200);
    expect(taken.body.status).to.equal('processing');
    expect(await node.ctx.storage.stat(good).then(() => 'kept', () => 'deleted')).to.equal('deleted');
    const files = await node.ctx.db.orm.em.fork().execute<{ kind: string; width: number; height: number; storage_key: string }[]>('select kind, width, height, storage_key from rizz_job_files where job_id = ? order by kind', [jobId]);
    expect(files.map((f) => [f.kind, f.width, f.height])).to.deep.equal([['crop', 900, 1200], ['original', 1200, 1200]]);
    expect(files.every((f) => !f.storage_key.includes('incoming'))).to.equal(true);
    expect((await jobCall('POST', `/jobs/${jobId}/uploaded`, token, { uploadKey: good })).status, 'once taken').to.equal(409);
  });
});

// A PNG whose header declares `width` × `height` gray pixels followed by a few kilobytes of image
// data: what a decompression bomb looks like to a decoder before it starts inflating.
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(0, 9); // grayscale
  const rows = zlib.deflateSync(Buffer.alloc((width + 1) * 16));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

describe('rizz: a job\'s page connected to another node', () => {
  let a: ApiNode;
  let b: ApiNode;
  before(async function () {
    if (!redisUrl) return this.skip();
    a = await startNode({ REDIS_URL: redisUrl, NODE_ID: 'page-node' });
    b = await startNode({ REDIS_URL: redisUrl, NODE_ID: 'api-node' });
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  it('hears every move made on the other node, through to completed', async function () {
    this.timeout(30_000);
    const { job, jobToken, order } = (await request(b, 'POST', '/payments/initialize')).body;
    const page = connectSocket(a, '/rizz', { jobId: job.id, token: jobToken });
    await connected(page);
    const moves: string[] = [];
    const completed = new Promise<void>((resolve) => page.on('job.updated', (j: { status: string }) => {
      moves.push(j.status);
      if (j.status === 'completed' || j.status === 'failed') resolve();
    }));
    await fetch(`${b.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    await request(b, 'POST', `/jobs/${job.id}/phone`, { headers: { 'x-job-token': jobToken }, body: { phone: '010-1212-3434' } });
    const bytes = await sharp({ create: { width: 900, height: 1200, channels: 3, background: { r: 160, g: 120, b: 100 } } }).jpeg().toBuffer();
    expect((await fetch(`${b.url}/jobs/${job.id}/upload`, { method: 'POST', headers: { 'x-job-token': jobToken, 'content-type': 'image/jpeg' }, body: new Uint8Array(bytes) })).status).to.equal(200);
    await completed;
    expect(moves).to.deep.equal(['pending_phone', 'pending_upload', 'processing', 'completed']);
  });
});

describe('rizz: paying through PortOne', () => {
  const WEBHOOK_SECRET = `whsec_${Buffer.from('rizz-portone-webhook-secret-0123456').toString('base64')}`;
  let portone: FakePortOne;
  let node: ApiNode;
  before(async () => {
    portone = await startFakePortOne({ apiSecret: 'portone-api-secret', storeId: 'store-1', webhookSecret: WEBHOOK_SECRET });
    node = await startNode({
      PORTONE_API_SECRET: 'portone-api-secret', PORTONE_STORE_ID: 'store-1', PORTONE_CHANNEL_KEY: 'channel-1', PORTONE_BASE_URL: portone.url, PORTONE_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    });
  });
  afterEach(closeAllSockets);
  after(async () => {
    await stopAllNodes();
    await portone.close();
  });

  const paidCount = async () => {
    const metric = await node.ctx.metrics.registry.getSingleMetricAsString('rizz_payments_total');
    return Number(/outcome="paid"[^}]*\} (\d+)/.exec(metric)?.[1] ?? 0);
  };
  const complete = (jobId: string, token: string) => request(node, 'POST', '/payments/complete', { headers: { 'x-job-token': token }, body: { jobId } });

  it('moves the job once when the webhook arrives twice and the client\'s completion call races it', async () => {
    const { job, jobToken, order } = (await request(node, 'POST', '/payments/initialize')).body;
    expect(order).to.include({ provider: 'portone', amount: 9900 });
    const page = connectSocket(node, '/rizz', { jobId: job.id, token: jobToken });
    await connected(page);
    const moves: string[] = [];
    page.on('job.updated', (j: { status: string }) => moves.push(j.status));
    // Asked before PortOne has the payment: still pending, nothing moves.
    expect((await complete(job.id, jobToken)).body.status).to.equal('pending_payment');
    expect((await complete(job.id, 'not-the-token')).status).to.equal(401);

    const paidBefore = await paidCount();
    portone.pay(order.orderId, 9900);
    const delivery = portone.signedWebhook('Transaction.Paid', order.orderId);
    const webhook = () => request(node, 'POST', '/webhooks/portone', { raw: delivery.body, headers: delivery.headers });
    const answers = await Promise.all([webhook(), complete(job.id, jobToken), webhook(), complete(job.id, jobToken)]);
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
    expect(answers[1].body.status).to.equal('pending_phone');
    expect(answers[3].body.status).to.equal('pending_phone');
    await new Promise((r) => setTimeout(r, 300));
    expect(moves).to.deep.equal(['pending_phone']);
    const paidAfter = await paidCount();
    expect(paidAfter - paidBefore, `rizz_payments_total{outcome="paid"} ${paidBefore} → ${paidAfter}`).to.equal(1);
  });

  it('refuses and records a payment of another amount, leaving the job unpaid', async () => {
    const { job, jobToken, order } = (await request(node, 'POST', '/payments/initialize')).body;
    portone.pay(order.orderId, 990);
    const res = await complete(job.id, jobToken);
    expect(res.status).to.equal(422);
    expect(res.body.code).to.equal('amount_mismatch');
    const failures = await node.ctx.db.orm.em.fork().execute<{ reason: string }[]>(
      'select f.reason from payment_failures f join payments p on p.id = f.payment_id where p.order_id = ?', [order.orderId]);
    expect(failures.map((f) => f.reason)).to.deep.equal(['amount_mismatch']);
    expect((await request(node, 'GET', `/jobs/${job.id}`, { headers: { 'x-job-token': jobToken } })).body.status).to.equal('pending_payment');
  });
});

describe('rizz: the 24-hour deletion you can prove', () => {
  const clock = createTestClock('2026-11-27T10:00:00+09:00');
  let node: ApiNode;
  before(async () => {
    node = await startNode({}, clock);
  });
  after(stopAllNodes);

  it('deletes an expired job\'s storage and rows, writes a receipt without personal data, answers 410 after; a failed storage delete is retried, never receipted early', async () => {
    const started = await request(node, 'POST', '/payments/initialize');
    const { job, jobToken, order } = started.body;
    await fetch(`${node.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    await request(node, 'POST', `/jobs/${job.id}/phone`, { headers: { 'x-job-token': jobToken }, body: { phone: '010-5555-1234' } });
    const bytes = await sharp({ create: { width: 900, height: 1200, channels: 3, background: { r: 90, g: 120, b: 150 } } }).jpeg().toBuffer();
    const up = await fetch(`${node.url}/jobs/${job.id}/upload`, { method: 'POST', headers: { 'x-job-token': jobToken, 'content-type': 'image/jpeg' }, body: new Uint8Array(bytes) });
    expect(up.status).to.equal(200);
    const keys = (await node.ctx.db.orm.em.fork().execute<{ storage_key: string }[]>('select storage_key from rizz_job_files where job_id = ?', [job.id])).map((r) => r.storage_key);
    expect(keys).to.have.length(2);
    const rizz = moduleServices(node.services, rizzModule);

    // Not yet expired: nothing happens.
    expect((await rizz.deletion.purgeExpired()).deleted).to.equal(0);
    clock.advance(24 * 3600_000 + 1000);
    expect((await request(node, 'GET', `/jobs/${job.id}`, { headers: { 'x-job-token': jobToken } })).status).to.equal(410);

    // Storage fails once: the job keeps its rows and gets no receipt.
    const storage = node.ctx.storage;
    const realDeletePrefix = storage.deletePrefix.bind(storage);
    storage.deletePrefix = async () => {
      throw new Error('storage unavailable');
    };
    const failed = await rizz.deletion.purgeExpired();
    storage.deletePrefix = realDeletePrefix;
    expect(failed).to.include({ failed: 1 });
    expect((await request(node, 'GET', `/results/${job.id}/receipt`)).status).to.equal(404);

    expect((await rizz.deletion.purgeExpired()).deleted).to.be.greaterThanOrEqual(1);
    for (const key of keys) expect(await storage.stat(key).then(() => 'still there', () => 'gone')).to.equal('gone');
    const db = node.ctx.db.orm.em.fork();
    for (const table of ['rizz_jobs', 'rizz_job_files', 'rizz_job_recommendations', 'rizz_survey_responses']) {
      const column = table === 'rizz_jobs' ? 'id' : 'job_id';
      expect((await db.execute<{ n: string }[]>(`select count(*) as n from ${table} where ${column} = ?`, [job.id]))[0].n, table).to.equal('0');
    }
    const receipt = await request(node, 'GET', `/results/${job.id}/receipt`);
    expect(receipt.status).to.equal(200);
    expect(receipt.body.deleted).to.deep.equal({ storageObjects: 2, files: 2, recommendations: 0, surveyResponses: 0, phone: true, smsLogsErased: 0, job: true,
      providerPredictions: { asked: 0, canceled: 0, finished: 0, notFound: 0, unconfirmed: 0 } });
    expect(receipt.body.expiredAt).to.equal('2026-11-28T10:00:00+09:00');
    expect(JSON.stringify(receipt.body)).to.not.match(/010|5555|1234|\+82/);
    expect((await request(node, 'GET', `/jobs/${job.id}`, { headers: { 'x-job-token': jobToken } })).status).to.equal(410);
  });
});

describe('rizz: the result behind the phone number', () => {
  const clock = createTestClock('2026-11-27T12:00:00+09:00');
  let node: ApiNode;
  before(async () => {
    node = await startNode({}, clock);
  });
  after(stopAllNodes);

  it('gives a result token for the right phone, blocks a client for an hour after 3 wrong ones, then lets it in; the survey is answered once', async () => {
    const started = await request(node, 'POST', '/payments/initialize');
    const { job, jobToken, order } = started.body;
    await fetch(`${node.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    await request(node, 'POST', `/jobs/${job.id}/phone`, { headers: { 'x-job-token': jobToken }, body: { phone: '010-7777-8888' } });
    const verify = (phone: string) => request(node, 'POST', `/results/${job.id}/verify`, { body: { phone } });

    const ok = await verify('+82 10 7777 8888');
    expect(ok.status).to.equal(200);
    const result = await request(node, 'GET', `/results/${job.id}`, { headers: { 'x-result-token': ok.body.resultToken } });
    expect(result.status).to.equal(200);
    expect(result.body).to.include({ jobId: job.id, status: 'pending_upload', report: null });
    expect(result.body.expiresAt).to.match(/\+09:00$/);
    expect((await request(node, 'GET', `/results/${job.id}`)).status).to.equal(401);

    expect((await verify('010-1111-2222')).body).to.include({ code: 'phone_mismatch' });
    expect((await verify('010-1111-2222')).status).to.equal(401);
    const third = await verify('010-1111-2222');
    expect(third.status).to.equal(429);
    expect(third.body).to.include({ code: 'verification_blocked', unblockAt: '2026-11-27T13:00:00+09:00' });
    // Blocked: even the right number waits.
    expect((await verify('010-7777-8888')).status).to.equal(429);
    clock.advance(3600_000 + 1000);
    const again = await verify('010-7777-8888');
    expect(again.status).to.equal(200);

    const survey = (body: object) => request(node, 'POST', `/results/${job.id}/survey`, { headers: { 'x-result-token': again.body.resultToken }, body });
    expect((await survey({ rating: 6 })).status).to.equal(400);
    expect((await survey({ rating: 5, answers: { wouldRecommend: true } })).status).to.equal(204);
    expect((await survey({ rating: 4 })).body.code).to.equal('survey_answered');
    // The token lasts 30 minutes.
    clock.advance(31 * 60_000);
    expect((await request(node, 'GET', `/results/${job.id}`, { headers: { 'x-result-token': again.body.resultToken } })).body.code).to.equal('result_token_expired');
    clock.advance(24 * 3600_000);
    expect((await verify('010-7777-8888')).status).to.equal(410);
  });
});

describe('rizz: the generation pipeline (offline drivers, the durable queue)', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  it('takes a photographed job to completed: three portraits stored, the report and its recommendations, the SMS with the result link', async function () {
    this.timeout(60_000);
    const started = await request(node, 'POST', '/payments/initialize');
    const { job, jobToken, order } = started.body;
    const page = connectSocket(node, '/rizz', { jobId: job.id, token: jobToken });
    await connected(page);
    await fetch(`${node.url}/sandbox/checkout/${order.orderId}/approve`, { method: 'POST' });
    await request(node, 'POST', `/jobs/${job.id}/phone`, { headers: { 'x-job-token': jobToken }, body: { phone: '010-4444-5555' } });
    const completed = new Promise<any>((resolve) => page.on('job.updated', (j: { status: string }) => (j.status === 'completed' || j.status === 'failed') && resolve(j)));
    const bytes = await sharp({ create: { width: 900, height: 1200, channels: 3, background: { r: 180, g: 140, b: 120 } } }).jpeg().toBuffer();
    const up = await fetch(`${node.url}/jobs/${job.id}/upload`, { method: 'POST', headers: { 'x-job-token': jobToken, 'content-type': 'image/jpeg' }, body: new Uint8Array(bytes) });
    expect(up.status).to.equal(200);
    expect(await completed).to.include({ id: job.id, status: 'completed' });

    const verified = await request(node, 'POST', `/results/${job.id}/verify`, { body: { phone: '01044445555' } });
    const result = await request(node, 'GET', `/results/${job.id}`, { headers: { 'x-result-token': verified.body.resultToken } });
    expect(result.body.status).to.equal('completed');
    expect(result.body.images).to.have.length(3);
    expect(result.body.report.summary).to.match(/offline/);
    expect(result.body.recommendations.map((r: { code: string }) => r.code)).to.deep.equal(['SC003', 'SC005', 'SC007']);
    // The SMS is logged under the job's guest user, which is how the deletion finds and erases its number.
    const [guest] = await node.ctx.db.orm.em.fork().execute<{ guest_user_id: string }[]>('select guest_user_id from rizz_jobs where id = ?', [job.id]);
    const sms = await node.ctx.db.orm.em.fork().execute<{ purpose: string }[]>(`select purpose from sms_logs where user_id = ?`, [guest.guest_user_id]);
    expect(sms.map((r) => r.purpose)).to.include('rizz.report_ready');
    const metric = await node.ctx.metrics.registry.getSingleMetricAsString('rizz_generations_total');
    expect(metric, metric).to.match(/outcome="completed"[^}]*\} [1-9]/);

    // Its 24 hours pass: the portraits go with the rest, and the number in its SMS logs is erased.
    await node.ctx.db.orm.em.fork().execute(`update rizz_jobs set expires_at = now() - interval '1 second' where id = ?`, [job.id]);
    await moduleServices(node.services, rizzModule).deletion.purgeExpired();
    const receipt = await request(node, 'GET', `/results/${job.id}/receipt`);
    expect(receipt.body.deleted).to.include({ storageObjects: 5, files: 5, recommendations: 3, smsLogsErased: sms.length });
    const left = await node.ctx.db.orm.em.fork().execute<{ phone_encrypted: string }[]>(`select phone_encrypted from sms_logs where user_id = ?`, [guest.guest_user_id]);
    expect(left.every((r) => r.phone_encrypted === '')).to.equal(true);
  });
});
