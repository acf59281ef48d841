// OFFLINE DRIVER routes — registered only while storage runs on the local driver (never in
// production: server/config.ts refuses it). They serve the URLs that integrations/storage/local.ts
// signs, as S3 would: GET downloads an object, PUT uploads one; an expired or altered URL is 403.
// The PUT body is the raw object (not JSON), read from the request stream under a byte limit.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import { AppError, forbidden } from '../services/errors.ts';
import { OBJECT_KEY_PATTERN, ObjectNotFoundError, attachmentDisposition } from '../integrations/storage/index.ts';
import { ObjectTooLargeError, SignedUrlError, type LocalObjectStorage } from '../integrations/storage/local.ts';

const DRIVER_HEADER = { 'X-Storage-Driver': 'local-offline' };

const keyParams = z.object({
  key: z.string().regex(OBJECT_KEY_PATTERN, 'not an object key (<prefix>/<uuid>[.ext])').describe('The object key the URL was signed for'),
});

const signedQuery = z.object({
  expires: z.string().max(20).optional().describe('Expiry, Unix seconds (signed)'),
  sig: z.string().max(100).optional().describe('HMAC-SHA256 signature, base64url'),
  name: z.string().max(400).optional().describe('GET: download file name (signed)'),
  ct: z.string().max(300).optional().describe('PUT: the Content-Type the upload must carry (signed)'),
  max: z.string().max(20).optional().describe('PUT: the largest body accepted, in bytes (signed)'),
});

const uploaded = z.object({
  key: z.string(),
  size: z.number().int(),
  contentType: z.string(),
  driver: z.literal('local-offline'),
  offline: z.literal(true),
});

export function storageRoutes(api: Api, deps: { storage: LocalObjectStorage; maxUploadBytes: number }): void {
  const { storage } = deps;

  api.route({
    method: 'get', path: '/storage/*key',
    summary: 'OFFLINE STORAGE: download an object through a URL from presignGet (S3 serves these in production)',
    tags: ['development'], auth: 'none', usesDatabase: false,
    params: keyParams, query: signedQuery,
    responses: {
      200: { description: 'The object bytes, with their stored Content-Type' },
      403: { description: 'The URL expired or was altered' },
      404: { description: 'The URL is valid but the object is gone (deleted or purged)' },
    },
    handler: async ({ params, query, ctx }) => {
      ctx.set(DRIVER_HEADER);
      const { downloadName } = verified(() => storage.verifyGet(params.key, query));
      const object = await found(() => storage.openRead(params.key));
      return {
        body: object.stream,
        headers: {
          'Content-Type': object.contentType,
          'Content-Length': String(object.size),
          'Cache-Control': object.cacheControl ?? 'private, max-age=0',
          // Signed URLs are handed to other origins (the apps, <img> tags) exactly like S3 URLs.
          'Cross-Origin-Resource-Policy': 'cross-origin',
          ...(downloadName !== undefined ? { 'Content-Disposition': attachmentDisposition(downloadName) } : {}),
        },
      };
    },
  });

  api.route({
    method: 'put', path: '/storage/*key',
    summary: 'OFFLINE STORAGE: upload an object (raw body) through a URL from presignPut (S3 serves these in production)',
    tags: ['development'], auth: 'none', usesDatabase: false,
    params: keyParams, query: signedQuery,
    responses: {
      200: { description: 'Stored', schema: uploaded },
      403: { description: 'The URL expired or was altered' },
      413: { description: 'The body exceeds the signed or the server limit' },
    },
    handler: async ({ params, query, ctx }) => {
      ctx.set(DRIVER_HEADER);
      const signed = verified(() => storage.verifyPut(params.key, query));
      const sent = ctx.get('content-type');
      // S3 refuses a Content-Type other than the signed one; here the client learns which header to fix.
      if (sent.trim().toLowerCase() !== signed.contentType.toLowerCase()) {
        throw new AppError(400, 'content_type_mismatch', `Content-Type must be ${signed.contentType}, as signed in the URL`, {
          issues: [{ field: 'content-type', in: 'header', message: `must be ${signed.contentType}` }],
        });
      }
      const maxBytes = Math.min(signed.maxBytes ?? deps.maxUploadBytes, deps.maxUploadBytes);
      const declared = Number(ctx.get('content-length') || 0);
      if (declared > maxBytes) throw tooLarge(maxBytes);
      try {
        const { size } = await storage.putStream(params.key, ctx.req, { contentType: signed.contentType, maxBytes });
        return { body: { key: params.key, size, contentType: signed.contentType, driver: 'local-offline', offline: true } };
      } catch (err) {
        if (err instanceof ObjectTooLargeError) {
          // The rest of the body is not worth reading: close the connection after answering.
          ctx.set('Connection', 'close');
          throw tooLarge(maxBytes);
        }
        // A client that hangs up mid-upload (nothing is stored) is answered by problemMiddleware,
        // as every request cut short is.
        throw err;
      }
    },
  });
}

function verified<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof SignedUrlError) {
      throw err.reason === 'expired' ? forbidden('signed_url_expired', 'The signed URL has expired') : forbidden('signed_url_invalid', 'The signed URL is invalid');
    }
    throw err;
  }
}

async function found<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new AppError(404, 'object_not_found', 'The object does not exist (it may have been deleted)');
    throw err;
  }
}

function tooLarge(maxBytes: number): AppError {
  return new AppError(413, 'payload_too_large', `The object exceeds ${maxBytes} bytes`, { extra: { maxBytes } });
}
