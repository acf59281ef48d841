// A fake of Amazon S3 (path-style addressing) over real HTTP, for the operations the storage driver
// uses: PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2 (continuation tokens,
// max-keys) and DeleteObjects, with S3's XML bodies, error documents and headers. Every request must
// carry a valid AWS Signature Version 4 — in the Authorization header or as a presigned query
// (X-Amz-Expires enforced) — verified the way S3 does, so a tampered or expired URL gets S3's 403.
//
// Why not s3rver (a devDependency): under Node 24 its ListObjectsV2 continuation tokens use the DES
// cipher, which OpenSSL 3 refuses (every truncated listing answers 500), and it does not verify
// SigV4 signatures at all, so a tampered presigned URL is served.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

type StoredObject = { bytes: Buffer; contentType: string; cacheControl?: string; etag: string; lastModified: Date };

export type FakeS3Request = { method: string; path: string; query: Record<string, string>; presigned: boolean; host: string };

export type FakeS3 = {
  endpoint: string;
  region: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requests: FakeS3Request[];
  objects: Map<string, StoredObject>;
  // The next `count` requests answer `status` with S3's error for it (503 SlowDown, 500 InternalError).
  failNext: (count: number, status?: 500 | 503) => void;
  // The next `count` requests get no answer at all, to exercise client timeouts.
  stallNext: (count: number) => void;
  close: () => Promise<void>;
};

const MAX_PRESIGN_SECONDS = 604800;
const MAX_SKEW_MS = 15 * 60 * 1000;

export async function startFakeS3(opts: { bucket?: string; region?: string } = {}): Promise<FakeS3> {
  const bucket = opts.bucket ?? 'test-bucket';
  const region = opts.region ?? 'us-east-1';
  const credentials = { accessKeyId: 'AKIAFAKES3TEST000001', secretAccessKey: crypto.randomBytes(30).toString('base64') };
  const objects = new Map<string, StoredObject>();
  const requests: FakeS3Request[] = [];
  const faults = { fail: 0, failStatus: 503 as 500 | 503, stall: 0 };
  const stalled = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (err) {
        sendError(res, 500, 'InternalError', `We encountered an internal error. Please try again. (${(err as Error).message})`);
      }
    });
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const rawUrl = req.url ?? '/';
    const [rawPath, rawQuery = ''] = splitOnce(rawUrl, '?');
    const query = parseQuery(rawQuery);
    const presigned = 'X-Amz-Signature' in query;
    requests.push({ method: req.method ?? '', path: decodeURIComponent(rawPath), query, presigned, host: req.headers.host ?? '' });

    if (faults.stall > 0) {
      faults.stall--;
      stalled.add(res);
      return;
    }
    if (faults.fail > 0) {
      faults.fail--;
      if (faults.failStatus === 503) sendError(res, 503, 'SlowDown', 'Please reduce your request rate.');
      else sendError(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      return;
    }

    const auth = authenticate(req, rawPath, rawQuery, body);
    if (auth) {
      sendError(res, auth.status, auth.code, auth.message, auth.extra);
      return;
    }

    const segments = rawPath.split('/');
    const bucketName = decodeURIComponent(segments[1] ?? '');
    const key = decodeURIComponent(segments.slice(2).join('/'));
    if (bucketName !== bucket) {
      sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucketName });
      return;
    }
    const method = req.method ?? 'GET';
    if (!key) {
      if (method === 'GET' && query['list-type'] === '2') return listObjectsV2(res, query);
      if (method === 'POST' && 'delete' in query) return deleteObjects(req, res, body);
      sendError(res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
      return;
    }
    if (method === 'PUT') return putObject(req, res, key, body);
    if (method === 'GET' || method === 'HEAD') return getObject(res, key, query, method === 'HEAD');
    if (method === 'DELETE') {
      objects.delete(key);
      res.writeHead(204, baseHeaders()).end();
      return;
    }
    sendError(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }

  function putObject(req: http.IncomingMessage, res: http.ServerResponse, key: string, body: Buffer): void {
    const md5 = req.headers['content-md5'];
    if (typeof md5 === 'string' && crypto.createHash('md5').update(body).digest('base64') !== md5) {
      sendError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      return;
    }
    const etag = `"${crypto.createHash('md5').update(body).digest('hex')}"`;
    objects.set(key, {
      bytes: body,
      contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
      cacheControl: req.headers['cache-control'] as string | undefined,
      etag,
      lastModified: new Date(),
    });
    res.writeHead(200, { ...baseHeaders(), ETag: etag }).end();
  }

  function getObject(res: http.ServerResponse, key: string, query: Record<string, string>, head: boolean): void {
    const object = objects.get(key);
    if (!object) {
      // HEAD answers carry no body, so the SDK sees only the status (its error name is NotFound).
      if (head) res.writeHead(404, baseHeaders()).end();
      else sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      ...baseHeaders(),
      'Content-Type': query['response-content-type'] ?? object.contentType,
      'Content-Length': object.bytes.length,
      ETag: object.etag,
      'Last-Modified': object.lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    if (object.cacheControl) headers['Cache-Control'] = object.cacheControl;
    if (query['response-content-disposition']) headers['Content-Disposition'] = query['response-content-disposition'];
    if (query['response-cache-control']) headers['Cache-Control'] = query['response-cache-control'];
    res.writeHead(200, headers);
    res.end(head ? undefined : object.bytes);
  }

  function listObjectsV2(res: http.ServerResponse, query: Record<string, string>): void {
    const prefix = query.prefix ?? '';
    const maxKeys = Math.min(Number(query['max-keys'] ?? 1000), 1000);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) {
      sendError(res, 400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range');
      return;
    }
    let after = query['start-after'] ?? '';
    if (query['continuation-token'] !== undefined) {
      // Opaque to clients; here it is the last key of the previous page, so deletions in between
      // do not shift the next page — the behaviour clients rely on with S3.
      const decoded = Buffer.from(query['continuation-token'], 'base64').toString('utf8');
      if (!decoded.startsWith('ct1:')) {
        sendError(res, 400, 'InvalidArgument', 'The continuation token provided is incorrect');
        return;
      }
      after = decoded.slice(4);
    }
    const matching = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
    const page = matching.slice(0, maxKeys);
    const truncated = matching.length > page.length;
    const urlEncode = query['encoding-type'] === 'url';
    const enc = (s: string) => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
    const contents = page.map((k) => {
      const o = objects.get(k)!;
      return `<Contents><Key>${enc(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.bytes.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    });
    const next = truncated ? Buffer.from(`ct1:${page[page.length - 1]}`).toString('base64') : undefined;
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
      (urlEncode ? '<EncodingType>url</EncodingType>' : '') +
      `<IsTruncated>${truncated}</IsTruncated>` +
      (query['continuation-token'] !== undefined ? `<ContinuationToken>${xmlEscape(query['continuation-token'])}</ContinuationToken>` : '') +
      (next ? `<NextContinuationToken>${next}</NextContinuationToken>` : '') +
      (query['start-after'] !== undefined ? `<StartAfter>${enc(query['start-after'])}</StartAfter>` : '') +
      contents.join('') +
      `</ListBucketResult>`;
    sendXml(res, 200, xml);
  }

  function deleteObjects(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const md5 = req.headers['content-md5'];
    const crc32 = req.headers['x-amz-checksum-crc32'];
    if (typeof md5 !== 'string' && typeof crc32 !== 'string') {
      sendError(res, 400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
      return;
    }
    if (typeof md5 === 'string' && crypto.createHash('md5').update(body).digest('base64') !== md5) {
      sendError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      return;
    }
    if (typeof crc32 === 'string') {
      const actual = Buffer.alloc(4);
      actual.writeUInt32BE(zlib.crc32(body));
      if (actual.toString('base64') !== crc32) {
        sendError(res, 400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.');
        return;
      }
    }
    const xml = body.toString('utf8');
    const keys = [...xml.matchAll(/<Object>\s*<Key>([\s\S]*?)<\/Key>/g)].map((m) => xmlUnescape(m[1]));
    if (!/^(<\?xml[^>]*\?>)?\s*<Delete[\s>]/.test(xml) || keys.length === 0 || keys.length > 1000) {
      sendError(res, 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
      return;
    }
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(xml);
    for (const k of keys) objects.delete(k);
    const deleted = quiet ? '' : keys.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join('');
    sendXml(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${deleted}</DeleteResult>`);
  }

  type AuthFailure = { status: number; code: string; message: string; extra?: Record<string, string> };

  // SigV4 as S3 checks it: the canonical request is rebuilt from what arrived and its signature
  // compared with the one sent; presigned requests also carry their own expiry.
  function authenticate(req: http.IncomingMessage, rawPath: string, rawQuery: string, body: Buffer): AuthFailure | undefined {
    const query = parseQuery(rawQuery);
    let credential: string;
    let signedHeaders: string;
    let signature: string;
    let amzDate: string;
    let payloadHash: string;
    const presigned = 'X-Amz-Signature' in query;
    if (presigned) {
      if (query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') return { status: 400, code: 'AuthorizationQueryParametersError', message: 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"' };
      credential = query['X-Amz-Credential'] ?? '';
      signedHeaders = query['X-Amz-SignedHeaders'] ?? '';
      signature = query['X-Amz-Signature'];
      amzDate = query['X-Amz-Date'] ?? '';
      payloadHash = query['X-Amz-Content-Sha256'] ?? 'UNSIGNED-PAYLOAD';
      const expires = Number(query['X-Amz-Expires']);
      if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
        return { status: 400, code: 'AuthorizationQueryParametersError', message: 'X-Amz-Expires must be less than a week (in seconds) that is 604800' };
      }
      const signedAt = parseAmzDate(amzDate);
      if (signedAt === undefined) return { status: 400, code: 'AuthorizationQueryParametersError', message: 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"' };
      if (signedAt + expires * 1000 < Date.now()) {
        return {
          status: 403, code: 'AccessDenied', message: 'Request has expired',
          extra: { 'X-Amz-Expires': String(expires), Expires: isoSeconds(signedAt + expires * 1000), ServerTime: isoSeconds(Date.now()) },
        };
      }
    } else {
      const header = req.headers.authorization;
      if (!header) return { status: 403, code: 'AccessDenied', message: 'Access Denied' };
      const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(header);
      if (!m) return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed' };
      [, credential, signedHeaders, signature] = m;
      amzDate = String(req.headers['x-amz-date'] ?? '');
      payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
      if (!payloadHash) return { status: 400, code: 'InvalidRequest', message: 'Missing required header for this request: x-amz-content-sha256' };
      const signedAt = parseAmzDate(amzDate);
      if (signedAt === undefined || Math.abs(signedAt - Date.now()) > MAX_SKEW_MS) {
        return { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
      }
      if (/^[0-9a-f]{64}$/.test(payloadHash) && crypto.createHash('sha256').update(body).digest('hex') !== payloadHash) {
        return { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
      }
      if (payloadHash.startsWith('STREAMING-')) return { status: 501, code: 'NotImplemented', message: 'aws-chunked uploads are not supported by this fake' };
    }

    const [accessKeyId, date, scopeRegion, service, terminator] = credential.split('/');
    if (accessKeyId !== credentials.accessKeyId) {
      return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.', extra: { AWSAccessKeyId: accessKeyId ?? '' } };
    }
    if (scopeRegion !== region || service !== 's3' || terminator !== 'aws4_request' || !amzDate.startsWith(date ?? '-')) {
      return { status: 400, code: 'AuthorizationHeaderMalformed', message: `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${region}'` };
    }
    const headerNames = signedHeaders.split(';');
    if (!headerNames.includes('host')) return { status: 403, code: 'AccessDenied', message: 'There were headers present in the request which were not signed' };
    const canonicalHeaders = headerNames.map((name) => `${name}:${canonicalHeaderValue(req.headers[name])}\n`).join('');
    const canonicalQuery = Object.entries(query)
      .filter(([k]) => !(presigned && k === 'X-Amz-Signature'))
      .map(([k, v]) => [uriEscape(k), uriEscape(v)])
      .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalRequest = [req.method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const scope = `${date}/${scopeRegion}/s3/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
    const signingKey = ['aws4_request', 's3', scopeRegion, date].reduceRight<Buffer>(
      (key, part) => hmac(key, part),
      Buffer.from(`AWS4${credentials.secretAccessKey}`),
    );
    const expected = hmac(signingKey, stringToSign).toString('hex');
    if (expected.length !== signature.length || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      return {
        status: 403, code: 'SignatureDoesNotMatch',
        message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        extra: { AWSAccessKeyId: accessKeyId, StringToSign: stringToSign, SignatureProvided: signature },
      };
    }
    return undefined;
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    bucket,
    credentials,
    requests,
    objects,
    failNext: (count, status = 503) => {
      faults.fail = count;
      faults.failStatus = status;
    },
    stallNext: (count) => {
      faults.stall = count;
    },
    close: () =>
      new Promise((r) => {
        for (const res of stalled) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function baseHeaders(): http.OutgoingHttpHeaders {
  return { 'x-amz-request-id': crypto.randomBytes(8).toString('hex').toUpperCase(), 'x-amz-id-2': crypto.randomBytes(24).toString('base64'), Server: 'AmazonS3' };
}

function sendXml(res: http.ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
  res.end(xml);
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  const requestId = crypto.randomBytes(8).toString('hex').toUpperCase();
  const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  sendXml(res, status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${requestId}</RequestId><HostId>${crypto.randomBytes(24).toString('base64')}</HostId></Error>`);
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

function parseQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split('&')) {
    if (!part) continue;
    const [k, v = ''] = splitOnce(part, '=');
    out[decodeURIComponent(k)] = decodeURIComponent(v);
  }
  return out;
}

// RFC 3986 unreserved characters stay; everything else is %XX, as SigV4 requires.
function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalHeaderValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function xmlUnescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
