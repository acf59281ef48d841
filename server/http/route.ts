// The one way a route is declared: its zod schemas validate the request at the edge and the same
// schemas document it in /openapi.json. Handlers receive parsed input and return the response.
import Router, { type RouterMiddleware } from '@koa/router';
import { RequestContext } from '@mikro-orm/core';
import { koaBody } from 'koa-body';
import type { Context, Middleware } from 'koa';
import type { Orm } from '../db.ts';
import { z, type ZodType } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import { tooManyRequests, validationError, type FieldIssue } from '../../services/errors.ts';
import { idempotencyKeySchema, type IdempotencyRunner } from '../../services/idempotency.ts';
import type { AccessClaims, TokenService } from '../../services/identity/tokens.ts';
import type { Limiter } from '../../services/limiter.ts';
import type { Metrics } from '../metrics.ts';
import { authenticate, type RouteAuth, type SessionCheck } from './auth.ts';
import { problemSchema } from './problem.ts';
import { readRawBody } from './rawBody.ts';
import { hostileJsonBytes, hostileStrings } from '../../services/hostileInput.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Schema = ZodType | undefined;
type Infer<S> = S extends ZodType ? z.output<S> : undefined;

export type RouteInput<B extends Schema, Q extends Schema, P extends Schema, A extends RouteAuth, I extends boolean = false> = {
  body: Infer<B>;
  // The exact request bytes, for routes that declare `rawBody` (webhooks, uploads).
  rawBody: Buffer | undefined;
  query: Infer<Q>;
  params: Infer<P>;
  auth: A extends 'none' ? undefined : AccessClaims;
  // The request's Idempotency-Key, on routes declared `idempotent: true` (some providers take it too).
  idempotencyKey: I extends true ? string : undefined;
  ctx: Context;
};

export type RouteResult = { status?: number; body?: unknown; headers?: Record<string, string> } | void;

export type RouteSpec<B extends Schema, Q extends Schema, P extends Schema, A extends RouteAuth, I extends boolean = false> = {
  method: Method;
  path: string;
  summary: string;
  tags: string[];
  auth: A;
  body?: B;
  query?: Q;
  params?: P;
  // 'strict' adds a tighter per-IP limit for routes worth brute-forcing (login, register, refresh);
  // 'webhook' replaces the general per-IP limit with the webhook senders' own (providers post from
  // a few addresses); 'none' is for probes and scrapes (health, metrics) that must never be refused.
  rateLimit?: 'default' | 'strict' | 'webhook' | 'none';
  // Routes that never touch the ORM (probes, metrics) skip the per-request EntityManager fork.
  usesDatabase?: boolean;
  // The largest JSON body this route takes; default BODY_LIMIT_BYTES. Larger is a 413.
  bodyLimitBytes?: number;
  // Hands the handler the unparsed body (at most maxBytes) instead of parsing `body`.
  // `contentType` is what the docs list (several for an upload that takes the file or a form).
  rawBody?: { maxBytes: number; contentType?: string | string[] };
  // Requires an Idempotency-Key header (on an authenticated route): the first successful response
  // (status and body) is stored per user and replayed, with Idempotent-Replayed: true, for a retry
  // with the same key; the same key on another path or with another body is a 409.
  idempotent?: I;
  responses: Record<number, { description: string; schema?: ZodType }>;
  handler: (input: RouteInput<B, Q, P, A, I>) => Promise<RouteResult> | RouteResult;
};

export type ApiDeps = {
  orm: Orm;
  bodyLimitBytes: number;
  tokens: TokenService;
  activeSession: SessionCheck;
  limits: { ip: Limiter; user: Limiter; strict: Limiter; webhook: Limiter };
  metrics: Metrics;
  idempotency: IdempotencyRunner;
};

const STANDARD_ERRORS: Record<number, string> = {
  400: 'Invalid input; `errors` names each field and why',
  401: 'Missing, invalid or expired access token',
  403: 'Not allowed',
  409: 'The Idempotency-Key was used with other parameters, or its first request is still running',
  429: 'Rate limited; see Retry-After',
};

const idempotencyHeader = z.object({
  'Idempotency-Key': idempotencyKeySchema.meta({
    description: 'Makes a retry safe: a retry with the same key replays the first response (with `Idempotent-Replayed: true`); the same key with other parameters is a 409. Keys are per user and kept for 24 hours.',
    example: 'order-2024-01-01-7f3a',
  }),
});
const replayedHeader = z.object({
  'Idempotent-Replayed': z.literal('true').optional().meta({ description: 'Present when this is the stored response to an earlier request with the same Idempotency-Key' }),
});

export function createApi(deps: ApiDeps) {
  // One @koa/router per first path segment (/auth, /api, /payments, ...): a router tests every
  // route's pattern in turn on every request, so each request scans only its own segment's routes
  // instead of all of them.
  const routers = new Map<string, Router>();
  const routerFor = (path: string): Router => {
    const segment = firstSegment(path);
    if (segment.startsWith(':') || segment.includes('*')) throw new Error(`${path}: a route's first path segment must be literal`);
    let router = routers.get(segment);
    if (!router) routers.set(segment, (router = new Router()));
    return router;
  };
  const paths: ZodOpenApiPathsObject = {};
  // Parsing runs only on routes that declare a body. The unparsed text is kept for webhook signatures.
  // One parser per body limit (a route may raise its own: a GPS track is larger than a form).
  const parsers = new Map<number, Middleware>();
  const parserFor = (limit: number): Middleware => {
    let parser = parsers.get(limit);
    if (!parser) parsers.set(limit, (parser = koaBody({ jsonLimit: limit, formLimit: limit, textLimit: limit, multipart: false, includeUnparsed: true })));
    return parser;
  };

  function route<B extends Schema = undefined, Q extends Schema = undefined, P extends Schema = undefined, A extends RouteAuth = 'none', I extends boolean = false>(
    spec: RouteSpec<B, Q, P, A, I>,
  ): void {
    if (spec.idempotent && spec.auth === 'none') throw new Error(`${spec.path}: idempotency keys are per user; an idempotent route needs auth`);
    const handle = async (ctx: Context) => {
      const rateLimit = spec.rateLimit ?? 'default';
      if (rateLimit === 'webhook') await limit(deps.limits.webhook, ctx.ip, 'webhook');
      else if (rateLimit !== 'none') await limit(deps.limits.ip, ctx.ip, 'ip');
      if (rateLimit === 'strict') await limit(deps.limits.strict, ctx.ip, 'auth');
      const auth = await authenticate(ctx, deps, spec.auth);
      if (auth && rateLimit !== 'none') await limit(deps.limits.user, auth.userId, 'user');
      const issues: FieldIssue[] = [];
      const body = parse(spec.body, ctx.request.body ?? {}, 'body', issues);
      const query = parse(spec.query, ctx.query, 'query', issues);
      const params = parse(spec.params, ctx.params, 'path', issues);
      if (issues.length) throw validationError(issues);
      const rawBody = spec.rawBody ? await readRawBody(ctx, spec.rawBody.maxBytes) : undefined;
      if (rawBody && rawContentTypes(spec.rawBody).some((t) => /json/i.test(t))) {
        const hostile = hostileJsonBytes(rawBody, 'body');
        if (hostile.length) throw validationError(hostile);
      }
      const input = { body, rawBody, query, params, auth, idempotencyKey: undefined, ctx } as RouteInput<B, Q, P, A, I>;
      const run = spec.idempotent ? () => idempotently(spec, ctx, input) : () => spec.handler(input);
      // Each request gets its own identity map (MikroORM RequestContext).
      const result = spec.usesDatabase === false ? await run() : await RequestContext.create(deps.orm.em, async () => run());
      if (!result) {
        ctx.status = 204;
        return;
      }
      for (const [k, v] of Object.entries(result.headers ?? {})) ctx.set(k, v);
      ctx.status = result.status ?? 200;
      if (result.body !== undefined) ctx.body = result.body;
    };
    if (spec.body) routerFor(spec.path)[spec.method](spec.path, parserFor(spec.bodyLimitBytes ?? deps.bodyLimitBytes), handle);
    else routerFor(spec.path)[spec.method](spec.path, handle);
    document(spec);
  }

  // Runs the handler under the request's Idempotency-Key: its status and body are stored, and a
  // retry gets them back. The scope is the method and the path with its parameters filled in, so a
  // key used for one order's refund cannot replay onto another's.
  async function idempotently<I extends boolean>(spec: RouteSpec<Schema, Schema, Schema, RouteAuth, I>, ctx: Context, input: RouteInput<Schema, Schema, Schema, RouteAuth, I>): Promise<RouteResult> {
    const scope = `${spec.method.toUpperCase()} ${spec.path.replace(/[:*](\w+)/g, (_, name: string) => String(ctx.params[name] ?? ''))}`;
    let headers: Record<string, string> = {};
    const stored = await deps.idempotency(
      { userId: input.auth!.userId, key: ctx.get('idempotency-key') || undefined, scope, request: input.body ?? null },
      async (key) => {
        const result = await spec.handler({ ...input, idempotencyKey: key as RouteInput<Schema, Schema, Schema, RouteAuth, I>['idempotencyKey'] });
        headers = result?.headers ?? {};
        return result ? { status: result.status ?? 200, body: result.body } : { status: 204, body: undefined };
      },
    );
    return {
      status: stored.status,
      body: stored.body ?? undefined,
      headers: stored.replayed ? { 'Idempotent-Replayed': 'true' } : headers,
    };
  }

  // A route outside the documented API (the docs pages themselves): plain Koa middleware, no
  // validation, rate limit or OpenAPI entry.
  function raw(method: 'get', path: string, handler: RouterMiddleware): void {
    routerFor(path)[method](path, handler);
  }

  // The middleware that dispatches to the routes: the request's first path segment picks the
  // router; each router answers 405 (with Allow) and OPTIONS for its own paths.
  function routes(): RouterMiddleware {
    // Built on a segment's first request, so routes declared after this call are served too.
    const dispatch = new Map<string, RouterMiddleware>();
    const dispatcherFor = (segment: string): RouterMiddleware | undefined => {
      const built = dispatch.get(segment);
      if (built) return built;
      const router = routers.get(segment);
      if (!router) return undefined;
      const matchRoute = router.routes();
      const allowedMethods = router.allowedMethods({ throw: false });
      const routeTo: RouterMiddleware = (ctx, next) => matchRoute(ctx, () => allowedMethods(ctx, next));
      dispatch.set(segment, routeTo);
      return routeTo;
    };
    return (ctx, next) => {
      const routeTo = dispatcherFor(firstSegment(ctx.path));
      return routeTo ? routeTo(ctx, next) : next();
    };
  }

  async function limit(limiter: Limiter, key: string, scope: string): Promise<void> {
    const retryAfter = await limiter.consume(key);
    if (retryAfter === null) return;
    deps.metrics.rateLimited.inc({ scope });
    throw tooManyRequests('rate_limited', `Too many requests; retry in ${retryAfter} s`, retryAfter);
  }

  function document(spec: RouteSpec<Schema, Schema, Schema, RouteAuth, boolean>): void {
    const openApiPath = spec.path.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { 'application/json': { schema: r.schema } } } : {}),
        ...(spec.idempotent && Number(status) < 300 ? { headers: replayedHeader } : {}),
      };
    }
    const errorStatuses = [400, 429, ...(spec.auth !== 'none' ? [401] : []), ...(spec.auth === 'admin' ? [403] : []), ...(spec.idempotent ? [409] : [])];
    for (const status of errorStatuses) {
      responses[String(status)] ??= { description: STANDARD_ERRORS[status], content: { 'application/problem+json': { schema: problemSchema } } };
    }
    const operation: ZodOpenApiOperationObject = {
      summary: spec.summary,
      tags: spec.tags,
      responses: responses as ZodOpenApiOperationObject['responses'],
      ...(spec.auth !== 'none' ? { security: [{ bearerAuth: [] }] } : {}),
      ...(spec.body ? { requestBody: { content: { 'application/json': { schema: spec.body } } } } : {}),
      ...(spec.rawBody ? { requestBody: { content: Object.fromEntries(rawContentTypes(spec.rawBody).map((t) => [t, { schema: rawBodySchema(t) }])) } } : {}),
      ...(spec.query || spec.params || spec.idempotent
        ? { requestParams: { ...(spec.query ? { query: spec.query } : {}), ...(spec.params ? { path: spec.params } : {}), ...(spec.idempotent ? { header: idempotencyHeader } : {}) } }
        : {}),
    } as ZodOpenApiOperationObject;
    paths[openApiPath] = { ...paths[openApiPath], [spec.method]: operation };
  }

  return { route, raw, routes, paths };
}

export type Api = ReturnType<typeof createApi>;

// '/auth/me' → 'auth'. Lower-cased, as @koa/router matches paths case-insensitively.
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

function parse(schema: Schema, value: unknown, location: string, issues: FieldIssue[]): unknown {
  if (!schema) return undefined;
  const hostile = hostileStrings(value, location);
  if (hostile.length) {
    issues.push(...hostile);
    return undefined;
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    issues.push({ field: issue.path.length ? issue.path.join('.') : location, in: location, message: issue.message });
  }
  return undefined;
}

const rawContentTypes = (raw: { contentType?: string | string[] } | undefined): string[] => [raw?.contentType ?? 'application/json'].flat();
// A form upload documents its one `file` field (server/http/upload.ts reads it); anything else is the bytes.
const rawBodySchema = (contentType: string) =>
  contentType === 'multipart/form-data'
    ? { type: 'object' as const, properties: { file: { type: 'string' as const, format: 'binary' } }, required: ['file'] }
    : { type: 'string' as const, format: 'binary' };
