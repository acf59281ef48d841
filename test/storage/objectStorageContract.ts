// The behaviour every ObjectStorage driver promises, run against each of them (local.test.ts,
// s3.test.ts) so code written against the offline driver works unchanged on S3.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { InvalidObjectKeyError, ObjectNotFoundError, newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';

export type ContractSubject = {
  storage: ObjectStorage;
  // The same driver and configuration with its clock set to `date`: what it signs expires relative to then.
  signedAt: (date: Date) => ObjectStorage;
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;

export function describeObjectStorageContract(label: string, subject: () => ContractSubject): void {
  describe(`ObjectStorage contract: ${label}`, () => {
    // Each run works under its own prefix so runs sharing a bucket or folder never see each other.
    const run = `contract/r${crypto.randomBytes(4).toString('hex')}`;
    const storage = () => subject().storage;

    async function expectRejects(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
      try {
        await promise;
      } catch (err) {
        expect(err).to.be.instanceOf(type);
        return;
      }
      expect.fail(`expected ${type.name}`);
    }

    it('mints keys as <prefix>/<random UUID>[.ext] and refuses prefixes and extensions outside the alphabet', () => {
      const key = newObjectKey('rizz/uploads', 'jpg');
      expect(key).to.match(new RegExp(`^rizz/uploads/${UUID.source}\\.jpg$`));
      expect(newObjectKey('chat/tts')).to.match(new RegExp(`^chat/tts/${UUID.source}$`));
      expect(newObjectKey('walk/photos', '.webp')).to.match(/\.webp$/);
      expect(newObjectKey('rizz/uploads')).to.not.equal(newObjectKey('rizz/uploads'));
      for (const prefix of ['', '/rizz', 'rizz/', '../rizz', 'rizz/../chat', 'rizz//x', 'Rizz', 'rizz/up loads', 'a/b/c/d/e/f/g/h/i', 'rizz/.hidden']) {
        expect(() => newObjectKey(prefix), prefix).to.throw(InvalidObjectKeyError);
      }
      for (const ext of ['', 'j/pg', '../x', 'JPG', 'jpg.exe.', 'x'.repeat(11)]) {
        expect(() => newObjectKey('rizz/uploads', ext), ext).to.throw(InvalidObjectKeyError);
      }
    });

    it('puts and gets bytes with their content type and cache control, and stats them', async () => {
      const key = newObjectKey(`${run}/roundtrip`, 'png');
      const bytes = crypto.randomBytes(3000);
      await storage().put(key, bytes, { contentType: 'image/png', cacheControl: 'private, max-age=86400' });
      const got = await storage().get(key);
      expect(Buffer.compare(got.bytes, bytes)).to.equal(0);
      expect(got).to.include({ contentType: 'image/png', cacheControl: 'private, max-age=86400', size: 3000 });
      expect(await storage().stat(key)).to.include({ size: 3000, contentType: 'image/png' });
    });

    it('answers a missing key with ObjectNotFoundError, and deletes idempotently', async () => {
      const key = newObjectKey(`${run}/missing`);
      await expectRejects(storage().get(key), ObjectNotFoundError);
      await expectRejects(storage().stat(key), ObjectNotFoundError);
      await storage().delete(key);
      await storage().put(key, Buffer.from('x'), { contentType: 'text/plain' });
      await storage().delete(key);
      await expectRejects(storage().get(key), ObjectNotFoundError);
    });

    it('refuses keys that are not ours on every operation: traversal, absolute, foreign names', async () => {
      const uuid = crypto.randomUUID();
      const bad = [
        '../../etc/passwd', `rizz/../../${uuid}`, `rizz/uploads/../../../${uuid}`, `/rizz/${uuid}`, `rizz/${uuid}/`, `rizz\\${uuid}`,
        'rizz/uploads/selfie.jpg', `${uuid}`, `rizz/${uuid}.JPG`, `rizz/${uuid.toUpperCase()}`, `rizz/%2e%2e/${uuid}`, `rizz/${uuid}.jpg\n`,
      ];
      for (const key of bad) {
        await expectRejects(storage().put(key, Buffer.from('x'), { contentType: 'text/plain' }), InvalidObjectKeyError);
        await expectRejects(storage().get(key), InvalidObjectKeyError);
        await expectRejects(storage().stat(key), InvalidObjectKeyError);
        await expectRejects(storage().delete(key), InvalidObjectKeyError);
        await expectRejects(storage().presignGet(key), InvalidObjectKeyError);
        await expectRejects(storage().presignPut(key, { contentType: 'image/jpeg' }), InvalidObjectKeyError);
      }
      for (const prefix of ['..', '../x', '', '/', 'a/', 'a/../b']) await expectRejects(storage().deletePrefix(prefix), InvalidObjectKeyError);
    });

    it('deletes a prefix across several list pages, on whole path segments only, and counts what it deleted', async () => {
      const base = `${run}/purge`;
      const put = (prefix: string) => storage().put(newObjectKey(prefix, 'jpg'), Buffer.from(prefix), { contentType: 'image/jpeg' });
      const inside = [...Array.from({ length: 23 }, () => `${base}/job`), ...Array.from({ length: 3 }, () => `${base}/job/portraits`)];
      const sibling = `${base}/job-2`;
      const siblingKey = newObjectKey(sibling, 'jpg');
      await Promise.all([...inside.map(put), storage().put(siblingKey, Buffer.from('keep'), { contentType: 'image/jpeg' })]);
      expect(await storage().deletePrefix(`${base}/job`)).to.equal(26);
      expect(await storage().deletePrefix(`${base}/job`)).to.equal(0);
      expect((await storage().get(siblingKey)).bytes.toString()).to.equal('keep');
      expect(await storage().deletePrefix(sibling)).to.equal(1);
    });

    it('keeps an object and the objects under a prefix of the same name apart, as S3 does', async () => {
      const parent = newObjectKey(`${run}/nested`);
      const child = newObjectKey(parent, 'webp');
      await storage().put(parent, Buffer.from('parent'), { contentType: 'image/jpeg' });
      await storage().put(child, Buffer.from('child'), { contentType: 'image/webp' });
      expect((await storage().get(parent)).bytes.toString()).to.equal('parent');
      expect((await storage().get(child)).bytes.toString()).to.equal('child');
      expect(await storage().deletePrefix(parent)).to.equal(1);
      expect((await storage().get(parent)).bytes.toString()).to.equal('parent');
      await expectRejects(storage().get(child), ObjectNotFoundError);
    });

    it('serves a presigned GET over HTTP, with Content-Disposition when a download name is given', async () => {
      const key = newObjectKey(`${run}/download`, 'jpg');
      const bytes = crypto.randomBytes(2048);
      await storage().put(key, bytes, { contentType: 'image/jpeg' });
      const signed = await storage().presignGet(key);
      expect(signed.method).to.equal('GET');
      expect(signed.expiresAt.getTime()).to.be.closeTo(Date.now() + 3600_000, 5000);
      const res = await fetch(signed.url);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('image/jpeg');
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), bytes)).to.equal(0);

      const named = await storage().presignGet(key, { downloadName: '내 사진 "1".jpg', expiresInSeconds: 60 });
      const namedRes = await fetch(named.url);
      expect(namedRes.status).to.equal(200);
      const disposition = namedRes.headers.get('content-disposition') ?? '';
      expect(disposition).to.match(/^attachment; filename="/);
      expect(disposition).to.include(`filename*=UTF-8''${encodeURIComponent('내 사진 "1".jpg')}`);
      await namedRes.arrayBuffer();
    });

    it('accepts an upload through a presigned PUT with the signed Content-Type, and refuses another type', async () => {
      const key = newObjectKey(`${run}/upload`, 'jpg');
      const bytes = crypto.randomBytes(4096);
      const signed = await storage().presignPut(key, { contentType: 'image/jpeg', maxBytes: 10_000 });
      expect(signed).to.include({ method: 'PUT' });
      expect(signed.headers).to.deep.equal({ 'Content-Type': 'image/jpeg' });

      const wrongType = await fetch(signed.url, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'text/html' } });
      expect(wrongType.status).to.be.within(400, 403);
      await wrongType.arrayBuffer();
      await expectRejects(storage().get(key), ObjectNotFoundError);

      const res = await fetch(signed.url, { method: 'PUT', body: bytes, headers: signed.headers });
      expect(res.status).to.equal(200);
      await res.arrayBuffer();
      const got = await storage().get(key);
      expect(got.contentType).to.equal('image/jpeg');
      expect(Buffer.compare(got.bytes, bytes)).to.equal(0);
    });

    it('answers an expired presigned GET or PUT with 403', async () => {
      const key = newObjectKey(`${run}/expired`, 'txt');
      await storage().put(key, Buffer.from('secret'), { contentType: 'text/plain' });
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      const past = subject().signedAt(twoHoursAgo);
      const get = await past.presignGet(key, { expiresInSeconds: 3600 });
      expect(get.expiresAt.getTime()).to.be.below(Date.now());
      const getRes = await fetch(get.url);
      expect(getRes.status).to.equal(403);
      expect(await getRes.text()).to.not.include('secret');

      const put = await past.presignPut(key, { contentType: 'text/plain' });
      const putRes = await fetch(put.url, { method: 'PUT', body: 'overwritten', headers: put.headers });
      expect(putRes.status).to.equal(403);
      await putRes.arrayBuffer();
      expect((await storage().get(key)).bytes.toString()).to.equal('secret');
    });

    it('answers a tampered presigned URL with 403: another key, a later expiry, another name', async () => {
      const mine = newObjectKey(`${run}/tamper`, 'txt');
      const theirs = newObjectKey(`${run}/tamper`, 'txt');
      await storage().put(mine, Buffer.from('mine'), { contentType: 'text/plain' });
      await storage().put(theirs, Buffer.from('theirs'), { contentType: 'text/plain' });
      const signed = await storage().presignGet(mine, { expiresInSeconds: 60, downloadName: 'mine.txt' });

      const otherKey = signed.url.replace(mine, theirs);
      expect(otherKey).to.not.equal(signed.url);
      const longer = signed.url.replace(/([?&](?:expires|X-Amz-Expires)=)(\d+)/, (_m, p: string, n: string) => `${p}${Number(n) + 86_400}`);
      expect(longer).to.not.equal(signed.url);
      const renamed = signed.url.replace('mine.txt', 'evil.html');
      expect(renamed).to.not.equal(signed.url);
      for (const url of [otherKey, longer, renamed]) {
        const res = await fetch(url);
        expect(res.status, url).to.equal(403);
        expect(await res.text()).to.not.include('theirs');
      }

      const upload = await storage().presignPut(mine, { contentType: 'text/plain' });
      const res = await fetch(upload.url.replace(mine, theirs), { method: 'PUT', body: 'overwritten', headers: upload.headers });
      expect(res.status).to.equal(403);
      await res.arrayBuffer();
      expect((await storage().get(theirs)).bytes.toString()).to.equal('theirs');
    });

    it('refuses presign lifetimes outside 1 s … 7 days', async () => {
      const key = newObjectKey(`${run}/lifetime`);
      for (const expiresInSeconds of [0, -1, 1.5, 7 * 24 * 3600 + 1]) {
        await expectRejects(storage().presignGet(key, { expiresInSeconds }), RangeError);
        await expectRejects(storage().presignPut(key, { contentType: 'image/jpeg', expiresInSeconds }), RangeError);
      }
    });
  });
}
