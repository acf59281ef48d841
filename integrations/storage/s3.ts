// The real driver: any S3-compatible service through the official SDK — AWS S3 (region, no
// endpoint), Cloudflare R2 (endpoint https://<account>.r2.cloudflarestorage.com, region "auto") and
// MinIO (its URL as endpoint, path-style addressing).
//
// Timeouts: each HTTP attempt has a connect timeout and a whole-request timeout that throws
// (throwOnRequestTimeout), so a stalled provider cannot hold a request forever.
// Retries: the SDK's "standard" retry strategy, `maxAttempts` attempts in all. It retries only what
// can succeed on a second try — throttling (429, SlowDown), 500/502/503/504, timeouts, connection
// resets and clock skew — never 4xx answers such as AccessDenied or NoSuchKey, waiting an exponential
// backoff with full jitter between attempts (random 0…100 ms × 2^attempt, capped at 20 s) and
// drawing on a client-wide retry quota so an outage does not multiply the load.
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ProviderError } from '../http.ts';
import {
  ObjectNotFoundError,
  assertContentType,
  assertMaxBytes,
  assertObjectKey,
  assertPrefix,
  assertPutOptions,
  attachmentDisposition,
  presignLifetime,
  type ObjectStorage,
  type PresignedRequest,
} from './index.ts';

export type S3StorageOptions = {
  bucket: string;
  region: string;
  // Unset for AWS S3 itself; the service URL for R2, MinIO and other compatible services.
  endpoint?: string;
  // Where clients reach the same service when that differs from where the nodes do (MinIO in
  // docker compose: nodes use http://minio:9000, a phone or browser http://localhost:9000).
  // Presigned URLs name this host and are signed for it; every other call uses `endpoint`.
  publicEndpoint?: string;
  // Unset: the SDK's default chain (environment, shared config, instance or task role).
  credentials?: { accessKeyId: string; secretAccessKey: string };
  // Bucket in the path (https://host/bucket/key) rather than the host name: MinIO and most
  // self-hosted services need it.
  forcePathStyle: boolean;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
  // ListObjectsV2 page size (S3's maximum is 1000); smaller only in tests, to exercise pagination.
  listPageSize?: number;
  // Injected by tests to mint URLs that are already expired without waiting.
  clock?: () => Date;
};

const SERVICE = 's3';
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);
const NETWORK_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function createS3Storage(opts: S3StorageOptions): ObjectStorage {
  const client = s3Client(opts, opts.endpoint);
  // Presigning is local computation (no request is sent): the second client only names the host.
  const presigner = opts.publicEndpoint ? s3Client(opts, opts.publicEndpoint) : client;
  const bucket = opts.bucket;
  const pageSize = Math.min(opts.listPageSize ?? 1000, 1000);
  const now = opts.clock ?? (() => new Date());

  async function call<T>(operation: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translate(operation, key, err);
    }
  }

  return {
    driver: 's3',

    async put(key, bytes, putOpts) {
      assertObjectKey(key);
      assertPutOptions(putOpts);
      await call('PutObject', key, () =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: putOpts.contentType, CacheControl: putOpts.cacheControl })),
      );
    },

    async get(key) {
      assertObjectKey(key);
      return call('GetObject', key, async () => {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from(await res.Body!.transformToByteArray());
        return { bytes, size: bytes.length, contentType: res.ContentType ?? 'application/octet-stream', ...(res.CacheControl ? { cacheControl: res.CacheControl } : {}) };
      });
    },

    async stat(key) {
      assertObjectKey(key);
      return call('HeadObject', key, async () => {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { size: res.ContentLength ?? 0, contentType: res.ContentType ?? 'application/octet-stream', ...(res.CacheControl ? { cacheControl: res.CacheControl } : {}) };
      });
    },

    async delete(key) {
      assertObjectKey(key);
      await call('DeleteObject', key, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
    },

    async deletePrefix(prefix) {
      assertPrefix(prefix);
      let deleted = 0;
      let continuationToken: string | undefined;
      // Each listed page (≤ 1000 keys) is one DeleteObjects call, S3's batch limit. Continuation
      // tokens mark a position after the last listed key, so deleting a page does not shift the next.
      do {
        const page = await call('ListObjectsV2', undefined, () =>
          client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, MaxKeys: pageSize, ContinuationToken: continuationToken })),
        );
        const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => Boolean(k));
        if (keys.length > 0) {
          const res = await call('DeleteObjects', undefined, () =>
            client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })),
          );
          const failed = res.Errors ?? [];
          deleted += keys.length - failed.length;
          if (failed.length > 0) {
            throw new ProviderError(SERVICE, `DeleteObjects failed for ${failed.length} of ${keys.length} keys (${failed[0].Code ?? 'unknown'})`, { retryable: true });
          }
        }
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken);
      return deleted;
    },

    async presignGet(key, getOpts = {}) {
      assertObjectKey(key);
      const expiresIn = presignLifetime(getOpts.expiresInSeconds);
      const disposition = getOpts.downloadName === undefined ? undefined : attachmentDisposition(getOpts.downloadName);
      const signingDate = now();
      const url = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: disposition }), { expiresIn, signingDate });
      return { url, method: 'GET', headers: {}, expiresAt: new Date(signingDate.getTime() + expiresIn * 1000) } satisfies PresignedRequest;
    },

    async presignPut(key, putOpts) {
      assertObjectKey(key);
      assertContentType(putOpts.contentType);
      assertMaxBytes(putOpts.maxBytes);
      const expiresIn = presignLifetime(putOpts.expiresInSeconds);
      const signingDate = now();
      // Content-Type is signed, so the uploader cannot store the object under another type.
      const url = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: putOpts.contentType }), {
        expiresIn,
        signingDate,
        signableHeaders: new Set(['content-type']),
      });
      return { url, method: 'PUT', headers: { 'Content-Type': putOpts.contentType }, expiresAt: new Date(signingDate.getTime() + expiresIn * 1000) } satisfies PresignedRequest;
    },

    async close() {
      client.destroy();
      if (presigner !== client) presigner.destroy();
    },
  };
}

function s3Client(opts: S3StorageOptions, endpoint: string | undefined): S3Client {
  return new S3Client({
    region: opts.region,
    endpoint,
    forcePathStyle: opts.forcePathStyle,
    credentials: opts.credentials,
    maxAttempts: opts.maxAttempts,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: opts.connectTimeoutMs, requestTimeout: opts.requestTimeoutMs, throwOnRequestTimeout: true },
    // The SDK's default (WHEN_SUPPORTED) adds CRC32 checksum headers that R2 and older MinIO reject
    // and bakes the checksum of an empty body into presigned PUT URLs, which breaks every upload.
    // Checksums stay on where S3 requires them (DeleteObjects).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

type SdkError = { name?: string; $metadata?: { httpStatusCode?: number }; $fault?: 'client' | 'server'; code?: string };

// SDK errors carry request ids and sometimes the URL; only the operation, the error's name and the
// status travel on (the SDK error stays as `cause` for the log).
function translate(operation: string, key: string | undefined, err: unknown): Error {
  const e = err as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (key !== undefined && (NOT_FOUND.has(e.name ?? '') || (operation !== 'PutObject' && status === 404 && e.name !== 'NoSuchBucket'))) {
    return new ObjectNotFoundError(key);
  }
  const retryable = status === undefined ? e.name === 'TimeoutError' || NETWORK_ERRORS.has(e.code ?? '') : status === 429 || status >= 500;
  const what = e.name === 'TimeoutError' ? 'timed out' : (e.name ?? 'failed');
  return new ProviderError(SERVICE, `${operation}: ${what}${status ? ` (HTTP ${status})` : ''}`, { status, retryable, cause: err });
}
