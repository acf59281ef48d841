// The offline local driver: the shared contract over real HTTP against a real node's /storage
// routes, plus what only this driver does (its labels, limits, file layout, HTTP-level refusals).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newObjectKey } from '../../integrations/storage/index.ts';
import { createLocalStorage, type LocalObjectStorage } from '../../integrations/storage/local.ts';
import { request, startNode, stopAllNodes } from '../helpers.ts';
import { describeObjectStorageContract } from './objectStorageContract.ts';

const MAX_UPLOAD = 64 * 1024;

describe('storage: local offline driver', () => {
  let dir: string;
  let node: ApiNode;
  let storage: LocalObjectStorage;
  let secret: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-local-'));
    node = await startNode({ STORAGE_LOCAL_DIR: dir, STORAGE_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) });
    secret = node.ctx.config.URL_SIGNING_SECRET;
    // A second driver on the same folder and secret, signing URLs for this node's real port (the
    // node's own driver signs for STORAGE_PUBLIC_URL, unknown before a port-0 node listens) — the
    // same arrangement as a cron process minting links that the API nodes serve.
    storage = createLocalStorage({ dir, signingSecret: secret, publicUrl: node.url });
  });

  after(async () => {
    await stopAllNodes();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describeObjectStorageContract('local', () => ({
    storage,
    signedAt: (date) => createLocalStorage({ dir, signingSecret: secret, publicUrl: node.url, clock: () => date }),
  }));

  describe('offline labelling and configuration', () => {
    it('runs the node on the local driver by default, signing URLs for STORAGE_PUBLIC_URL', async () => {
      expect(node.ctx.storage.driver).to.equal('local-offline');
      expect(node.ctx.localStorageDriver).to.equal(node.ctx.storage);
      const other = await startNode({ STORAGE_LOCAL_DIR: dir, STORAGE_PUBLIC_URL: 'https://files.example.test/base/' });
      const signed = await other.ctx.storage.presignGet(newObjectKey('rizz/uploads', 'jpg'));
      expect(signed.url).to.match(/^https:\/\/files\.example\.test\/base\/storage\/rizz\/uploads\/[0-9a-f-]{36}\.jpg\?expires=\d+&sig=/);
    });

    it('labels every response it shapes as local-offline', async () => {
      const key = newObjectKey('test/label', 'txt');
      const put = await storage.presignPut(key, { contentType: 'text/plain' });
      const putRes = await fetch(put.url, { method: 'PUT', body: 'hello', headers: put.headers });
      expect(putRes.headers.get('x-storage-driver')).to.equal('local-offline');
      expect(await putRes.json()).to.deep.equal({ key, size: 5, contentType: 'text/plain', driver: 'local-offline', offline: true });

      const get = await storage.presignGet(key);
      const getRes = await fetch(get.url);
      expect(getRes.headers.get('x-storage-driver')).to.equal('local-offline');
      expect(getRes.headers.get('content-length')).to.equal('5');
      expect(await getRes.text()).to.equal('hello');

      const expired = await createLocalStorage({ dir, signingSecret: secret, publicUrl: node.url, clock: () => new Date(Date.now() - 7200_000) }).presignGet(key);
      const expiredRes = await request(node, 'GET', new URL(expired.url).pathname + new URL(expired.url).search);
      expect(expiredRes.status).to.equal(403);
      expect(expiredRes.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(expiredRes.headers.get('x-storage-driver')).to.equal('local-offline');
      expect(expiredRes.body.code).to.equal('signed_url_expired');
    });

    it('answers an unsigned, mis-signed or foreign-secret URL with 403 signed_url_invalid', async () => {
      const key = newObjectKey('test/invalid', 'txt');
      await storage.put(key, Buffer.from('x'), { contentType: 'text/plain' });
      const foreign = await createLocalStorage({ dir, signingSecret: 'another-secret-of-at-least-32-characters', publicUrl: node.url }).presignGet(key);
      for (const pathAndQuery of [`/storage/${key}`, `/storage/${key}?expires=9999999999&sig=AAAA`, new URL(foreign.url).pathname + new URL(foreign.url).search]) {
        const res = await request(node, 'GET', pathAndQuery);
        expect(res.status, pathAndQuery).to.equal(403);
        expect(res.body.code).to.equal('signed_url_invalid');
      }
    });

    it('answers 404 object_not_found for a valid URL whose object was deleted (e.g. purged after 24 h)', async () => {
      const key = newObjectKey('test/purged', 'jpg');
      await storage.put(key, Buffer.from('x'), { contentType: 'image/jpeg' });
      const signed = await storage.presignGet(key);
      await storage.delete(key);
      const res = await request(node, 'GET', new URL(signed.url).pathname + new URL(signed.url).search);
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal('object_not_found');
    });
  });

  describe('uploads', () => {
    it('refuses a body over the signed maxBytes with 413 and keeps nothing, not even a temp file', async () => {
      const key = newObjectKey('test/limit', 'bin');
      const signed = await storage.presignPut(key, { contentType: 'application/octet-stream', maxBytes: 1000 });
      const res = await request(node, 'PUT', new URL(signed.url).pathname + new URL(signed.url).search, {
        raw: crypto.randomBytes(5000).toString('latin1'),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.status).to.equal(413);
      expect(res.body.code).to.equal('payload_too_large');
      expect(res.body.maxBytes).to.equal(1000);
      expect(fs.existsSync(path.join(dir, 'objects', `${key}.bin`))).to.equal(false);
      expect(fs.readdirSync(path.join(dir, 'tmp'))).to.deep.equal([]);
    });

    it('refuses a streamed (chunked, no Content-Length) body once it passes the server limit', async () => {
      const key = newObjectKey('test/limit', 'bin');
      const signed = new URL((await storage.presignPut(key, { contentType: 'application/octet-stream' })).url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: signed.hostname, port: signed.port, method: 'PUT', path: signed.pathname + signed.search, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        // The server may close the socket once it has answered; the answer is what matters.
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        const chunk = Buffer.alloc(16 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < MAX_UPLOAD * 2) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(status).to.equal(413);
      expect(fs.existsSync(path.join(dir, 'objects', `${key}.bin`))).to.equal(false);
    });

    it('stores nothing when the client hangs up mid-upload', async () => {
      const key = newObjectKey('test/abort', 'bin');
      const signed = new URL((await storage.presignPut(key, { contentType: 'application/octet-stream' })).url);
      const req = http.request({ host: signed.hostname, port: signed.port, method: 'PUT', path: signed.pathname + signed.search, headers: { 'content-type': 'application/octet-stream', 'content-length': '50000' } });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(10_000));
      // Once the server holds a temp file for this upload, cut the connection.
      await until(() => fs.readdirSync(path.join(dir, 'tmp')).length > 0);
      req.destroy();
      await until(() => fs.readdirSync(path.join(dir, 'tmp')).length === 0);
      expect(fs.existsSync(path.join(dir, 'objects', `${key}.bin`))).to.equal(false);
    });

    it('writes objects atomically into objects/<key>.bin with a meta sidecar, leaving no temp files', async () => {
      const key = newObjectKey('walk/photos', 'webp');
      await storage.put(key, Buffer.from('webp bytes'), { contentType: 'image/webp', cacheControl: 'public, max-age=31536000, immutable' });
      expect(fs.readFileSync(path.join(dir, 'objects', `${key}.bin`), 'utf8')).to.equal('webp bytes');
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta', `${key}.json`), 'utf8'))).to.deep.equal({ contentType: 'image/webp', cacheControl: 'public, max-age=31536000, immutable' });
      expect(fs.readdirSync(path.join(dir, 'tmp'))).to.deep.equal([]);
      const res = await fetch((await storage.presignGet(key)).url);
      expect(res.headers.get('cache-control')).to.equal('public, max-age=31536000, immutable');
      await res.arrayBuffer();
    });

    it('answers the wrong Content-Type with 400 naming the header', async () => {
      const key = newObjectKey('test/type', 'jpg');
      const signed = new URL((await storage.presignPut(key, { contentType: 'image/jpeg' })).url);
      const res = await request(node, 'PUT', signed.pathname + signed.search, { raw: 'x', headers: { 'content-type': 'image/svg+xml' } });
      expect(res.status).to.equal(400);
      expect(res.body.code).to.equal('content_type_mismatch');
      expect(res.body.errors[0]).to.include({ field: 'content-type', in: 'header' });
    });
  });

  describe('path traversal over HTTP', () => {
    // Raw requests, since fetch would normalise the dot segments away before sending.
    function rawGet(requestPath: string): Promise<{ status: number; body: string }> {
      const url = new URL(node.url);
      return new Promise((resolve, reject) => {
        http.get({ host: url.hostname, port: url.port, path: requestPath }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    }

    it('never serves a file outside the storage folder, however the key is spelled', async () => {
      // A real file one level above the objects folder, which a traversal would reach.
      fs.writeFileSync(path.join(dir, 'outside.txt'), 'TOP-SECRET-CONTENT');
      const uuid = crypto.randomUUID();
      const attempts = [
        '/storage/../outside.txt', '/storage/..%2Foutside.txt', '/storage/%2e%2e/outside.txt', '/storage/%2e%2e%2foutside.txt',
        `/storage/rizz/..%2F..%2F..%2Fpackage.json`, `/storage/rizz/${uuid}%00.jpg`, '/storage/%2fetc%2fpasswd', `/storage/rizz\\..\\${uuid}`,
      ];
      for (const attempt of attempts) {
        const res = await rawGet(`${attempt}?expires=9999999999&sig=x`);
        expect(res.status, attempt).to.be.oneOf([400, 403, 404]);
        expect(res.body, attempt).to.not.include('TOP-SECRET-CONTENT').and.to.not.include('"dependencies"');
      }
      const named = await rawGet('/storage/..%2F..%2Fpackage.json?expires=1&sig=x');
      expect(named.status).to.equal(400);
      expect(JSON.parse(named.body).errors[0]).to.include({ field: 'key', in: 'path' });
    });
  });

  it('documents the /storage routes in /openapi.json', async () => {
    const res = await request(node, 'GET', '/openapi.json');
    expect(res.status).to.equal(200);
    const paths = Object.keys(res.body.paths);
    expect(paths.some((p) => p.startsWith('/storage/'))).to.equal(true);
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
