// The Koa application: middleware order is the security order (request id and errors first,
// then headers and CORS, then size-limited body parsing, then routes).
import Koa from 'koa';
import cors from '@koa/cors';
import helmet from 'koa-helmet';
import { koaBody } from 'koa-body';
import type { AppContext, Services } from '../context.ts';
import { createLimits } from '../context.ts';
import { problemMiddleware } from './problem.ts';
import { requestContextMiddleware } from './requestContext.ts';
import { createApi } from './route.ts';
import { buildOpenApiDocument, docsRouter } from './docs.ts';
import { authRoutes } from '../../routes/auth.ts';
import { devOAuthRoutes } from '../../routes/devOAuth.ts';
import { healthRoutes, type ReadinessCheck } from '../../routes/health.ts';
import { userAdminRoutes } from '../../routes/users.ts';
import { socketEventDocs } from '../../realtime/index.ts';

export function createHttpApp(ctx: AppContext, services: Services, opts: { isShuttingDown: () => boolean; version: string }) {
  const app = new Koa({ proxy: ctx.config.TRUST_PROXY });
  const api = createApi({ tokens: ctx.tokens, limits: createLimits(ctx), metrics: ctx.metrics });

  const checks: ReadinessCheck[] = [
    { name: 'postgres', check: async () => void (await ctx.db.orm.em.fork().execute('select 1')) },
    ...(ctx.redis ? [{ name: 'redis', check: async () => void (await ctx.redis!.client.ping()) }] : []),
  ];
  healthRoutes(api, {
    checks,
    metricsText: () => ctx.metrics.registry.metrics(),
    metricsContentType: ctx.metrics.registry.contentType,
    isShuttingDown: opts.isShuttingDown,
  });
  authRoutes(api, services);
  userAdminRoutes(api, services);
  if (ctx.devIssuer) devOAuthRoutes(api, { devIssuer: ctx.devIssuer, providers: ctx.oauthVerifiers.map((v) => v.provider) });

  const docs = docsRouter(() => buildOpenApiDocument({ paths: api.paths, socketEvents: socketEventDocs(ctx.config.NODE_ID), version: opts.version }));
  const allowedOrigins = new Set(ctx.config.CORS_ORIGINS);

  app.use(requestContextMiddleware({ orm: ctx.db.orm, logger: ctx.logger, metrics: ctx.metrics }));
  app.use(problemMiddleware(ctx.logger));
  // An API answers JSON only; the docs page sets its own, looser policy.
  app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }));
  app.use(cors({
    origin: (c) => (allowedOrigins.has(c.get('origin')) ? c.get('origin') : ''),
    credentials: true,
    exposeHeaders: ['X-Request-Id', 'Retry-After'],
  }));
  app.use(koaBody({
    jsonLimit: ctx.config.BODY_LIMIT_BYTES,
    formLimit: ctx.config.BODY_LIMIT_BYTES,
    textLimit: ctx.config.BODY_LIMIT_BYTES,
    multipart: false,
    // Webhooks verify signatures over the exact bytes received.
    includeUnparsed: true,
  }));
  app.use(docs.routes());
  app.use(api.router.routes());
  app.use(api.router.allowedMethods({ throw: false }));
  return app;
}
