// Object storage shared by every module: rizz selfies and AI portraits (purged after 24 h), walk
// photos, chat character images and TTS audio. Two drivers implement it: s3.ts (AWS S3, Cloudflare
// R2, MinIO) and local.ts (the OFFLINE development driver, files served by this server).
//
// Keys are always `<prefix>/<random UUID>[.ext]`, minted by newObjectKey. The prefix is chosen by
// code ('rizz/uploads', `rizz/jobs/${jobId}`), never taken from a request, and every driver refuses
// a key outside this alphabet, so a key can never climb out of its folder or collide with a user's
// choice of name.
import crypto from 'node:crypto';

export type StorageDriverName = 'local-offline' | 's3';

export type PutOptions = { contentType: string; cacheControl?: string };

export type StoredObject = { bytes: Buffer; contentType: string; cacheControl?: string; size: number };

export type ObjectInfo = { size: number; contentType: string; cacheControl?: string };

export type PresignGetOptions = {
  expiresInSeconds?: number;
  // Sent back as Content-Disposition: attachment, so a browser saves the file under this name.
  downloadName?: string;
};

export type PresignPutOptions = {
  contentType: string;
  expiresInSeconds?: number;
  // Enforced at upload time by the local driver only: an S3 presigned PUT cannot carry a size
  // limit (only a presigned POST policy can), so whoever accepts a direct upload checks
  // `stat(key).size` before using the object.
  maxBytes?: number;
};

// What a client needs to perform the request: the URL, and the headers it must send unchanged
// (they are part of the signature).
export type PresignedRequest = {
  url: string;
  method: 'GET' | 'PUT';
  headers: Record<string, string>;
  expiresAt: Date;
};

export interface ObjectStorage {
  readonly driver: StorageDriverName;
  put(key: string, bytes: Uint8Array, opts: PutOptions): Promise<void>;
  // Throws ObjectNotFoundError when the key holds nothing.
  get(key: string): Promise<StoredObject>;
  // Size and type without the bytes, e.g. to check a direct upload. Throws ObjectNotFoundError.
  stat(key: string): Promise<ObjectInfo>;
  // Idempotent: deleting a missing key succeeds, as it does on S3.
  delete(key: string): Promise<void>;
  // Deletes every object under `<prefix>/` (whole path segments: 'rizz/a' never touches
  // 'rizz/ab/…') and answers how many were deleted.
  deletePrefix(prefix: string): Promise<number>;
  presignGet(key: string, opts?: PresignGetOptions): Promise<PresignedRequest>;
  presignPut(key: string, opts: PresignPutOptions): Promise<PresignedRequest>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`no object at ${key}`);
    this.name = 'ObjectNotFoundError';
    this.key = key;
  }
}

// A programming error (a key or prefix that code built wrongly), never a user's input problem:
// keys reach the drivers only after newObjectKey or a signature check.
export class InvalidObjectKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidObjectKeyError';
  }
}

export const DEFAULT_PRESIGN_SECONDS = 3600;
// SigV4 presigned URLs cannot outlive 7 days; the local driver keeps the same ceiling so code that
// works offline works on S3.
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

const SEGMENT = '[a-z0-9][a-z0-9_-]{0,63}';
const PREFIX = `${SEGMENT}(?:/${SEGMENT}){0,7}`;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const EXT = '[a-z0-9]{1,10}';

export const OBJECT_KEY_PATTERN = new RegExp(`^${PREFIX}/${UUID}(?:\\.${EXT})?$`);
const PREFIX_PATTERN = new RegExp(`^${PREFIX}$`);
const EXT_PATTERN = new RegExp(`^${EXT}$`);
// Header values travel in signed URLs and response headers: no control characters, bounded length.
const HEADER_SAFE = /^[\x20-\x7e]{1,200}$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(?:\s*;\s*[a-z0-9_-]+=[a-z0-9_.-]+)*$/i;

export function newObjectKey(prefix: string, ext?: string): string {
  assertPrefix(prefix);
  const suffix = ext === undefined ? '' : `.${normaliseExt(ext)}`;
  return `${prefix}/${crypto.randomUUID()}${suffix}`;
}

export function isObjectKey(key: string): boolean {
  return OBJECT_KEY_PATTERN.test(key);
}

export function assertObjectKey(key: string): void {
  if (!isObjectKey(key)) throw new InvalidObjectKeyError('object keys are <prefix>/<uuid>[.ext] minted by newObjectKey');
}

export function assertPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidObjectKeyError('a prefix is 1–8 segments of lowercase letters, digits, "_" and "-", without leading or trailing "/"');
  }
}

export function assertPutOptions(opts: PutOptions): void {
  assertContentType(opts.contentType);
  if (opts.cacheControl !== undefined && !HEADER_SAFE.test(opts.cacheControl)) throw new RangeError('cacheControl must be printable ASCII, at most 200 characters');
}

export function assertContentType(contentType: string): void {
  if (!MEDIA_TYPE.test(contentType)) throw new RangeError('contentType must be a media type such as image/jpeg');
}

// Accepts the options of presignGet/presignPut and answers the validated lifetime in seconds.
export function presignLifetime(expiresInSeconds: number | undefined): number {
  const seconds = expiresInSeconds ?? DEFAULT_PRESIGN_SECONDS;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_SECONDS}`);
  }
  return seconds;
}

export function assertMaxBytes(maxBytes: number | undefined): void {
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) throw new RangeError('maxBytes must be a positive integer');
}

// RFC 6266: an ASCII fallback for old clients plus the exact UTF-8 name (Korean file names).
export function attachmentDisposition(downloadName: string): string {
  if (downloadName.length === 0 || downloadName.length > 200 || /[\x00-\x1f\x7f]/.test(downloadName)) {
    throw new RangeError('downloadName must be 1–200 characters without control characters');
  }
  const ascii = downloadName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(downloadName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function normaliseExt(ext: string): string {
  const bare = ext.startsWith('.') ? ext.slice(1) : ext;
  if (!EXT_PATTERN.test(bare)) throw new InvalidObjectKeyError('an extension is 1–10 lowercase letters or digits');
  return bare;
}
