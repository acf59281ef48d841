// OFFLINE DRIVER — development only (server/config.ts refuses it when NODE_ENV=production: a node's
// own disk is neither durable nor shared between nodes). Objects are files under `dir`; presigned
// URLs point at this server's /storage routes (routes/storage.ts) and carry an HMAC-SHA256 signature
// over what they allow, so they behave like S3's: expiring, bound to one key, method and content type.
//
// Layout: objects/<key>.bin holds the bytes, meta/<key>.json the content type and cache control,
// tmp/ the half-written files. The suffixes keep files apart from folders: on S3 `a/<uuid>` and
// `a/<uuid>/<uuid>` can both exist, and here `a/<uuid>` must not have to be a file and a folder. Every file is written to tmp/ and renamed into place, so a reader sees
// either the whole old file or the whole new one, never a torn write.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ObjectNotFoundError,
  assertContentType,
  assertMaxBytes,
  assertObjectKey,
  assertPrefix,
  assertPutOptions,
  attachmentDisposition,
  isObjectKey,
  presignLifetime,
  type ObjectInfo,
  type ObjectStorage,
  type PresignedRequest,
  type PutOptions,
  type StoredObject,
} from './index.ts';

export type LocalStorageOptions = {
  dir: string;
  signingSecret: string;
  // Base of the URLs it signs, e.g. http://localhost:3000; the /storage routes must answer there.
  publicUrl: string;
  // Injected by tests to mint URLs that are already expired without waiting.
  clock?: () => Date;
};

// The query string of a URL minted by presignGet/presignPut, as the route receives it.
export type SignedQuery = { expires?: string; sig?: string; ct?: string; max?: string; name?: string };

export type VerifiedGet = { downloadName?: string };
export type VerifiedPut = { contentType: string; maxBytes?: number };

export type ReadableObject = ObjectInfo & { stream: Readable };

export class SignedUrlError extends Error {
  readonly reason: 'expired' | 'invalid';
  constructor(reason: 'expired' | 'invalid') {
    super(reason === 'expired' ? 'the signed URL has expired' : 'the signed URL is invalid');
    this.name = 'SignedUrlError';
    this.reason = reason;
  }
}

export class ObjectTooLargeError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`the object exceeds ${maxBytes} bytes`);
    this.name = 'ObjectTooLargeError';
    this.maxBytes = maxBytes;
  }
}

export type LocalObjectStorage = ObjectStorage & {
  readonly driver: 'local-offline';
  verifyGet(key: string, query: SignedQuery): VerifiedGet;
  verifyPut(key: string, query: SignedQuery): VerifiedPut;
  openRead(key: string): Promise<ReadableObject>;
  putStream(key: string, source: Readable, opts: PutOptions & { maxBytes: number }): Promise<{ size: number }>;
};

type Meta = { contentType: string; cacheControl?: string };

const STALE_TMP_MS = 60 * 60 * 1000;
const DATA_SUFFIX = '.bin';
// Domain separation: URL_SIGNING_SECRET may sign other kinds of URLs too.
const SIGNATURE_CONTEXT = 'storage-url-v1';

export function createLocalStorage(opts: LocalStorageOptions): LocalObjectStorage {
  const root = path.resolve(opts.dir);
  const objectsDir = path.join(root, 'objects');
  const metaDir = path.join(root, 'meta');
  const tmpDir = path.join(root, 'tmp');
  const base = opts.publicUrl.replace(/\/+$/, '');
  const now = opts.clock ?? (() => new Date());
  fs.mkdirSync(tmpDir, { recursive: true });
  void sweepStaleTmp(tmpDir);

  function objectPath(key: string): string {
    assertObjectKey(key);
    return inside(objectsDir, key + DATA_SUFFIX);
  }

  function metaPath(key: string): string {
    return inside(metaDir, `${key}.json`);
  }

  function sign(parts: string[]): string {
    return crypto.createHmac('sha256', opts.signingSecret).update(JSON.stringify([SIGNATURE_CONTEXT, ...parts])).digest('base64url');
  }

  function checkSignature(parts: string[], query: SignedQuery): void {
    if (!query.sig || !query.expires || !/^\d{1,12}$/.test(query.expires)) throw new SignedUrlError('invalid');
    const expected = Buffer.from(sign(parts));
    const given = Buffer.from(query.sig);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) throw new SignedUrlError('invalid');
    if (Number(query.expires) * 1000 <= now().getTime()) throw new SignedUrlError('expired');
  }

  function expiry(expiresInSeconds: number | undefined): { expires: number; expiresAt: Date } {
    const expires = Math.floor(now().getTime() / 1000) + presignLifetime(expiresInSeconds);
    return { expires, expiresAt: new Date(expires * 1000) };
  }

  function urlFor(key: string, params: Record<string, string>): string {
    return `${base}/storage/${key}?${new URLSearchParams(params).toString()}`;
  }

  async function readMeta(key: string): Promise<Meta> {
    try {
      return JSON.parse(await fs.promises.readFile(metaPath(key), 'utf8')) as Meta;
    } catch {
      // The bytes are the truth; a lost sidecar only loses the type.
      return { contentType: 'application/octet-stream' };
    }
  }

  async function writeMeta(key: string, meta: Meta): Promise<void> {
    const tmp = tmpFile();
    await fs.promises.writeFile(tmp, JSON.stringify(meta), { flag: 'wx' });
    await moveIntoPlace(tmp, metaPath(key));
  }

  function tmpFile(): string {
    return path.join(tmpDir, crypto.randomUUID());
  }

  async function moveIntoPlace(tmp: string, target: string): Promise<void> {
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
  }

  const storage: LocalObjectStorage = {
    driver: 'local-offline',

    async put(key, bytes, putOpts) {
      const target = objectPath(key);
      assertPutOptions(putOpts);
      // Meta first: until the bytes land, the key reads as missing rather than mistyped.
      await writeMeta(key, { contentType: putOpts.contentType, cacheControl: putOpts.cacheControl });
      const tmp = tmpFile();
      await fs.promises.writeFile(tmp, bytes, { flag: 'wx' });
      await moveIntoPlace(tmp, target);
    },

    async putStream(key, source, putOpts) {
      const target = objectPath(key);
      assertPutOptions(putOpts);
      let size = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          if (size > putOpts.maxBytes) done(new ObjectTooLargeError(putOpts.maxBytes));
          else done(null, chunk);
        },
      });
      const tmp = tmpFile();
      try {
        await pipeline(source, limit, fs.createWriteStream(tmp, { flags: 'wx' }));
      } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        throw err;
      }
      try {
        await writeMeta(key, { contentType: putOpts.contentType, cacheControl: putOpts.cacheControl });
      } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        throw err;
      }
      await moveIntoPlace(tmp, target);
      return { size };
    },

    async get(key) {
      const file = objectPath(key);
      let bytes: Buffer;
      try {
        bytes = await fs.promises.readFile(file);
      } catch (err) {
        throw notFoundOr(err, key);
      }
      const meta = await readMeta(key);
      return { bytes, size: bytes.length, ...meta } satisfies StoredObject;
    },

    async stat(key) {
      const file = objectPath(key);
      let size: number;
      try {
        size = (await fs.promises.stat(file)).size;
      } catch (err) {
        throw notFoundOr(err, key);
      }
      return { size, ...(await readMeta(key)) };
    },

    async openRead(key) {
      const file = objectPath(key);
      // Opened before stat so that a concurrent delete cannot pull the file out from under the stream.
      let handle: fs.promises.FileHandle;
      try {
        handle = await fs.promises.open(file, 'r');
      } catch (err) {
        throw notFoundOr(err, key);
      }
      try {
        const { size } = await handle.stat();
        const meta = await readMeta(key);
        return { size, ...meta, stream: handle.createReadStream() };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },

    async delete(key) {
      const file = objectPath(key);
      await fs.promises.rm(file, { force: true });
      await fs.promises.rm(metaPath(key), { force: true });
    },

    async deletePrefix(prefix) {
      assertPrefix(prefix);
      const dir = inside(objectsDir, prefix);
      let deleted = 0;
      for await (const key of walkKeys(dir, prefix)) {
        try {
          await fs.promises.unlink(objectPath(key));
          deleted++;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        await fs.promises.rm(metaPath(key), { force: true });
      }
      await removeEmptyDirs(dir);
      await removeEmptyDirs(inside(metaDir, prefix));
      return deleted;
    },

    async presignGet(key, getOpts = {}) {
      assertObjectKey(key);
      const { expires, expiresAt } = expiry(getOpts.expiresInSeconds);
      const name = getOpts.downloadName;
      if (name !== undefined) attachmentDisposition(name);
      const params: Record<string, string> = { expires: String(expires), ...(name !== undefined ? { name } : {}) };
      params.sig = sign(['GET', key, params.expires, name ?? '']);
      return { url: urlFor(key, params), method: 'GET', headers: {}, expiresAt } satisfies PresignedRequest;
    },

    async presignPut(key, putOpts) {
      assertObjectKey(key);
      assertContentType(putOpts.contentType);
      assertMaxBytes(putOpts.maxBytes);
      const { expires, expiresAt } = expiry(putOpts.expiresInSeconds);
      const max = putOpts.maxBytes === undefined ? '' : String(putOpts.maxBytes);
      const params: Record<string, string> = { expires: String(expires), ct: putOpts.contentType, ...(max ? { max } : {}) };
      params.sig = sign(['PUT', key, params.expires, putOpts.contentType, max]);
      return { url: urlFor(key, params), method: 'PUT', headers: { 'Content-Type': putOpts.contentType }, expiresAt } satisfies PresignedRequest;
    },

    verifyGet(key, query) {
      if (!isObjectKey(key)) throw new SignedUrlError('invalid');
      checkSignature(['GET', key, query.expires ?? '', query.name ?? ''], query);
      return query.name !== undefined ? { downloadName: query.name } : {};
    },

    verifyPut(key, query) {
      if (!isObjectKey(key) || !query.ct) throw new SignedUrlError('invalid');
      checkSignature(['PUT', key, query.expires ?? '', query.ct, query.max ?? ''], query);
      return { contentType: query.ct, ...(query.max ? { maxBytes: Number(query.max) } : {}) };
    },

    async close() {},
  };
  return storage;
}

// Resolves `relative` under `dir` and refuses anything that would land outside it. Keys are already
// restricted to a safe alphabet; this is the second, independent wall.
function inside(dir: string, relative: string): string {
  const full = path.resolve(dir, relative);
  if (!full.startsWith(dir + path.sep)) throw new Error('path escapes the storage directory');
  return full;
}

function notFoundOr(err: unknown, key: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' ? new ObjectNotFoundError(key) : (err as Error);
}

async function* walkKeys(dir: string, prefix: string): AsyncGenerator<string> {
  let entries: fs.Dir;
  try {
    entries = await fs.promises.opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for await (const entry of entries) {
    const relative = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) yield* walkKeys(path.join(dir, entry.name), relative);
    else if (entry.isFile() && relative.endsWith(DATA_SUFFIX) && isObjectKey(relative.slice(0, -DATA_SUFFIX.length))) yield relative.slice(0, -DATA_SUFFIX.length);
  }
}

// Bottom-up; a directory that gained a file meanwhile stays (rmdir refuses non-empty ones).
async function removeEmptyDirs(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const child = path.join(dir, name);
    if ((await fs.promises.lstat(child).catch(() => undefined))?.isDirectory()) await removeEmptyDirs(child);
  }
  await fs.promises.rmdir(dir).catch(() => undefined);
}

// A crash between write and rename leaves a temp file; only old ones are removed, since another
// process (the cron process, a second node in development) may be writing into the same folder.
async function sweepStaleTmp(tmpDir: string): Promise<void> {
  try {
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await fs.promises.readdir(tmpDir)) {
      const file = path.join(tmpDir, name);
      const st = await fs.promises.stat(file).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await fs.promises.rm(file, { force: true });
    }
  } catch {
    /* best effort */
  }
}
