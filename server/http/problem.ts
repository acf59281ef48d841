// Every error leaves as RFC 9457 application/problem+json with a stable `code`. What the body says
// is decided by toErrorBody() (services/errors.ts), the same mapping socket acks use; this file
// only renders it, and turns Koa's own errors into domain errors first.
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AppError, toErrorBody, type ErrorBody } from '../../services/errors.ts';
import type { Logger } from '../logger.ts';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ field: z.string(), in: z.string().optional(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 499: 'Client Closed Request', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

// What Node, raw-body (under koa-body) and the stream helpers throw when the client hangs up or
// sends bytes that are not HTTP: ECONNRESET and "aborted" from a request stream cut mid-body,
// ECONNABORTED with type request.aborted from raw-body, a stream closed early, a broken pipe.
const CLIENT_GONE_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
export function isClientGone(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; type?: unknown; message?: unknown };
  return (typeof e.code === 'string' && CLIENT_GONE_CODES.has(e.code)) || e.type === 'request.aborted' || e.message === 'aborted' || e.message === 'Parse Error';
}

export function sendProblem(ctx: Context, error: ErrorBody): void {
  const { status, code, message, errors, ...extra } = error;
  const problem: Record<string, unknown> = {
    type: `/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: message,
    instance: ctx.path,
    code,
    requestId: String(ctx.state.requestId ?? ''),
    ...(errors ? { errors } : {}),
  };
  // An error's extra fields (resetAt, limit, retryAfter, ...) sit beside the standard members,
  // which they may not replace.
  for (const [k, v] of Object.entries(extra)) if (!(k in problem)) problem[k] = v;
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = problem;
}

// Errors from Koa's own stack (body parser, router) carry `status`, and `expose` when their message
// is meant for the client (http-errors); they become domain errors with stable codes. Anything
// else carrying a `status` (an SDK's error, say) is not the client's fault and stays unknown.
export function fromHttpError(raw: unknown): AppError | undefined {
  if (raw instanceof AppError || typeof raw !== 'object' || raw === null) return undefined;
  const err = raw as { status?: unknown; type?: unknown; message?: unknown; expose?: unknown; code?: unknown };
  // zlib's errors for a body that claims Content-Encoding gzip, deflate or br but is not: the
  // client's mistake, found while reading the body (Z_DATA_ERROR, ERR__ERROR_FORMAT_PADDING_2, …).
  if (typeof err.code === 'string' && /^(Z_|ERR__ERROR_|ERR_BROTLI)/.test(err.code)) {
    return new AppError(400, 'invalid_body_encoding', 'Request body does not match its Content-Encoding', { issues: [{ field: 'body', in: 'header', message: 'not valid for its Content-Encoding' }] });
  }
  if (typeof err.status !== 'number' || err.status < 400 || err.status >= 500) return undefined;
  const message = typeof err.message === 'string' ? err.message : '';
  if (err.type === 'entity.too.large' || err.status === 413) return new AppError(413, 'payload_too_large', 'Request body is too large');
  if (err.type === 'entity.parse.failed' || (err.status === 400 && /json/i.test(message))) {
    return new AppError(400, 'invalid_json', 'Request body is not valid JSON', { issues: [{ field: 'body', message: 'not valid JSON' }] });
  }
  if (err.status === 415) return new AppError(415, 'unsupported_media_type', 'Send the body as application/json');
  if (err.expose !== true) return undefined;
  return new AppError(err.status, 'bad_request', message || 'Bad request');
}

export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined) {
        if (ctx.status === 404) sendProblem(ctx, toErrorBody(new AppError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}`)));
        // The router has set Allow; the body says the same in problem+json.
        else if (ctx.status === 405) sendProblem(ctx, toErrorBody(new AppError(405, 'method_not_allowed', `${ctx.path} does not accept ${ctx.method}; see the Allow header`)));
      }
    } catch (raw) {
      // The client hung up before its request had arrived: there is no one left to answer and
      // nothing failed here, so it is neither a 400 nor a 500 but nginx's 499, logged at debug.
      // An ECONNRESET after the request was read (an upstream's, say) is not the client's doing.
      if (!ctx.req.complete && isClientGone(raw)) {
        logger.debug({ requestId: ctx.state.requestId, err: (raw as Error).message }, 'client went away mid-request');
        sendProblem(ctx, { status: 499, code: 'client_closed_request', message: 'The client closed the connection before its request arrived' });
        return;
      }
      const err = fromHttpError(raw) ?? raw;
      if (!(err instanceof AppError)) logger.error({ err, requestId: ctx.state.requestId }, 'unhandled error');
      const body = toErrorBody(err);
      if ((body.status === 429 || body.status === 503) && typeof body.retryAfter === 'number') ctx.set('Retry-After', String(body.retryAfter));
      if (body.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      sendProblem(ctx, body);
    }
  };
}
