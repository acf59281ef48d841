// Every error leaves as RFC 9457 application/problem+json with a stable `code`. Domain errors
// keep their status and fields; anything unexpected is a 500 whose details stay in the log.
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AppError, type FieldIssue } from '../../services/errors.ts';
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
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function sendProblem(ctx: Context, status: number, code: string, detail: string, extra: { errors?: FieldIssue[]; [k: string]: unknown } = {}): void {
  const { errors, ...rest } = extra;
  ctx.status = status;
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: `/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    instance: ctx.path,
    code,
    requestId: String(ctx.state.requestId ?? ''),
    ...(errors && errors.length ? { errors } : {}),
    ...rest,
  };
}

// Errors from Koa's own stack (body parser, router) carry `status`/`expose`; they are mapped to codes.
function fromHttpError(err: { status?: number; type?: string; message?: string }): AppError | undefined {
  if (!err.status || err.status >= 500) return undefined;
  if (err.type === 'entity.too.large' || err.status === 413) return new AppError(413, 'payload_too_large', 'Request body is too large');
  if (err.type === 'entity.parse.failed' || (err.status === 400 && /json/i.test(err.message ?? ''))) {
    return new AppError(400, 'invalid_json', 'Request body is not valid JSON', { issues: [{ field: 'body', message: 'not valid JSON' }] });
  }
  if (err.status === 415) return new AppError(415, 'unsupported_media_type', 'Send the body as application/json');
  return new AppError(err.status, 'bad_request', err.message ?? 'Bad request');
}

export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined) {
        if (ctx.status === 404) sendProblem(ctx, 404, 'not_found', `No route for ${ctx.method} ${ctx.path}`);
        // The router has set Allow; the body says the same in problem+json.
        else if (ctx.status === 405) sendProblem(ctx, 405, 'method_not_allowed', `${ctx.path} does not accept ${ctx.method}; see the Allow header`);
      }
    } catch (raw) {
      const err = raw instanceof AppError ? raw : fromHttpError(raw as Record<string, never>);
      if (!err) {
        logger.error({ err: raw, requestId: ctx.state.requestId }, 'unhandled error');
        sendProblem(ctx, 500, 'internal_error', 'An unexpected error occurred');
        return;
      }
      if (err.status === 429 && typeof err.extra.retryAfter === 'number') ctx.set('Retry-After', String(err.extra.retryAfter));
      if (err.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
      sendProblem(ctx, err.status, err.code, err.message, { errors: err.issues, ...err.extra });
    }
  };
}
