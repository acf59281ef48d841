// The real S3 driver (the official SDK) against test/fakes/s3.ts, which speaks S3's wire format and
// verifies SigV4: the shared contract, plus pagination, retries, timeouts and error typing.
import { expect } from 'chai';
import { ProviderError } from '../../integrations/http.ts';
import { ObjectNotFoundError, newObjectKey } from '../../integrations/storage/index.ts';
import { createS3Storage, type S3StorageOptions } from '../../integrations/storage/s3.ts';
import { startFakeS3, type FakeS3 } from '../fakes/s3.ts';
import { describeObjectStorageContract } from './objectStorageContract.ts';

describe('storage: S3 driver', () => {
  let s3: FakeS3;
  let options: S3StorageOptions;
  const opened: { close: () => Promise<void> }[] = [];

  function open(overrides: Partial<S3StorageOptions> = {}) {
    const storage = createS3Storage({ ...options, ...overrides });
    opened.push(storage);
    return storage;
  }

  before(async () => {
    s3 = await startFakeS3({ bucket: 'rp-test', region: 'ap-northeast-2' });
    options = {
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      forcePathStyle: true,
      connectTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      maxAttempts: 3,
      // Small pages so that the contract's 26-object purge spans several ListObjectsV2 pages.
      listPageSize: 7,
    };
  });

  after(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await s3.close();
  });

  let contractStorage: ReturnType<typeof open>;
  before(() => {
    contractStorage = open();
  });

  describeObjectStorageContract('s3', () => ({
    storage: contractStorage,
    signedAt: (date) => open({ clock: () => date }),
  }));

  it('pages through ListObjectsV2 with continuation tokens and deletes each page with one DeleteObjects', async () => {
    const prefix = 'rizz/jobs/paging';
    await Promise.all(Array.from({ length: 20 }, () => contractStorage.put(newObjectKey(prefix, 'jpg'), Buffer.from('x'), { contentType: 'image/jpeg' })));
    const from = s3.requests.length;
    expect(await contractStorage.deletePrefix(prefix)).to.equal(20);
    const calls = s3.requests.slice(from);
    const lists = calls.filter((r) => r.method === 'GET' && r.query['list-type'] === '2');
    const deletes = calls.filter((r) => r.method === 'POST' && 'delete' in r.query);
    expect(lists.map((r) => r.query['max-keys'])).to.deep.equal(['7', '7', '7']);
    expect(lists[0].query).to.not.have.property('continuation-token');
    expect(lists[1].query['continuation-token']).to.be.a('string');
    expect(lists.every((r) => r.query.prefix === `${prefix}/`)).to.equal(true);
    expect(deletes).to.have.length(3);
    expect([...s3.objects.keys()].filter((k) => k.startsWith(prefix))).to.deep.equal([]);
  });

  it('presigns without checksum parameters (R2/MinIO-safe) and signs the upload Content-Type', async () => {
    const key = newObjectKey('chat/tts', 'mp3');
    const put = new URL((await contractStorage.presignPut(key, { contentType: 'audio/mpeg', expiresInSeconds: 600 })).url);
    expect(put.pathname).to.equal(`/${s3.bucket}/${key}`);
    expect(put.searchParams.get('X-Amz-SignedHeaders')).to.equal('content-type;host');
    expect(put.searchParams.get('X-Amz-Expires')).to.equal('600');
    expect([...put.searchParams.keys()].filter((k) => /checksum/i.test(k))).to.deep.equal([]);
    const get = new URL((await contractStorage.presignGet(key)).url);
    expect([...get.searchParams.keys()].filter((k) => /checksum/i.test(k))).to.deep.equal([]);
  });

  it('presigns for S3_PUBLIC_ENDPOINT while the node itself talks to S3_ENDPOINT', async () => {
    // The fake listens on 127.0.0.1; "localhost" stands for the address clients use (minio:9000
    // for the nodes, localhost:9000 for a browser, in docker compose).
    const publicEndpoint = s3.endpoint.replace('127.0.0.1', 'localhost');
    const storage = open({ publicEndpoint });
    const key = newObjectKey('rizz/uploads', 'jpg');
    const from = s3.requests.length;
    const put = await storage.presignPut(key, { contentType: 'image/jpeg', maxBytes: 1024 });
    expect(new URL(put.url).host).to.equal(new URL(publicEndpoint).host);
    expect(s3.requests.length, 'presigning sends nothing').to.equal(from);
    // The signature covers the public host, and the fake checks it against the Host header sent.
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: 'selfie' })).status).to.equal(200);
    const get = await storage.presignGet(key);
    expect(new URL(get.url).host).to.equal(new URL(publicEndpoint).host);
    expect(await (await fetch(get.url)).text()).to.equal('selfie');
    // Everything else still goes to S3_ENDPOINT.
    expect((await storage.get(key)).bytes.toString()).to.equal('selfie');
    const sent = s3.requests.slice(from);
    expect(sent.filter((r) => r.presigned).map((r) => r.host)).to.deep.equal([new URL(publicEndpoint).host, new URL(publicEndpoint).host]);
    expect(sent.filter((r) => !r.presigned).map((r) => r.host)).to.deep.equal([new URL(s3.endpoint).host]);
    // A URL signed for one host does not pass for another.
    const wrongHost = put.url.replace('localhost', '127.0.0.1');
    expect((await fetch(wrongHost, { method: 'PUT', headers: put.headers, body: 'x' })).status).to.equal(403);
  });

  it('retries throttling and 5xx answers, then succeeds', async () => {
    const key = newObjectKey('walk/photos', 'jpg');
    s3.failNext(2, 500);
    const from = s3.requests.length;
    await contractStorage.put(key, Buffer.from('after retries'), { contentType: 'image/jpeg' });
    expect(s3.requests.length - from).to.equal(3);
    // Throttling waits longer between attempts (the SDK's throttling backoff base is 500 ms).
    s3.failNext(1, 503);
    expect((await contractStorage.get(key)).bytes.toString()).to.equal('after retries');
  });

  it('gives up after maxAttempts with a retryable ProviderError', async () => {
    const storage = open({ maxAttempts: 2 });
    s3.failNext(2, 503);
    const from = s3.requests.length;
    const err = await storage.get(newObjectKey('walk/photos')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderError);
    expect(err).to.include({ service: 's3', status: 503, retryable: true });
    expect((err as Error).message).to.equal('s3: GetObject: SlowDown (HTTP 503)');
    expect(s3.requests.length - from).to.equal(2);
  });

  it('does not retry a refusal: wrong credentials are one request and a non-retryable ProviderError', async () => {
    const storage = open({ credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const from = s3.requests.length;
    const err = await storage.put(newObjectKey('rizz/uploads', 'jpg'), Buffer.from('x'), { contentType: 'image/jpeg' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderError);
    expect(err).to.include({ status: 403, retryable: false });
    expect((err as Error).message).to.equal('s3: PutObject: SignatureDoesNotMatch (HTTP 403)');
    expect((err as Error).message).to.not.include('not-the-secret');
    expect(s3.requests.length - from).to.equal(1);
  });

  it('times out a stalled request, retries it, and reports a retryable timeout', async () => {
    const storage = open({ requestTimeoutMs: 300, maxAttempts: 2 });
    s3.stallNext(2);
    const from = s3.requests.length;
    const err = await storage.stat(newObjectKey('chat/images')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderError);
    expect(err).to.include({ retryable: true });
    expect((err as Error).message).to.match(/timed out/);
    expect(s3.requests.length - from).to.equal(2);
  });

  it('maps a missing object to ObjectNotFoundError on GET and on HEAD (whose 404 has no body)', async () => {
    const key = newObjectKey('rizz/portraits', 'jpg');
    expect(await contractStorage.get(key).catch((e: unknown) => e)).to.be.instanceOf(ObjectNotFoundError);
    expect(await contractStorage.stat(key).catch((e: unknown) => e)).to.be.instanceOf(ObjectNotFoundError);
  });

  it('reports a missing bucket as a ProviderError, not as a missing object', async () => {
    const err = await open({ bucket: 'no-such-bucket' }).get(newObjectKey('rizz/uploads')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProviderError);
    expect(err).to.include({ status: 404, retryable: false });
  });
});
