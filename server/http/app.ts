// The Koa application: middleware order is the security order (request id and errors first,
// then headers and CORS, then routes, each parsing a size-limited body only if it declares one).
import Koa from 'koa';
import cors from '@koa/cors';
import type { AppContext, Services } from '../context.ts';
import { createLimits } from '../context.ts';
import { isClientGone, problemMiddleware } from './problem.ts';
import { securityHeaders } from './security.ts';
import { requestContextMiddleware } from './requestContext.ts';
import { createApi } from './route.ts';
import { pointRoutes } from '../../routes/points.ts';
import { withIdempotency } from '../../services/idempotency.ts';
import { buildOpenApiDocument, docsRoutes } from './docs.ts';
import { authRoutes } from '../../routes/auth.ts';
import { devOAuthRoutes } from '../../routes/devOAuth.ts';
import { healthRoutes, type ReadinessCheck } from '../../routes/health.ts';
import { userAdminRoutes } from '../../routes/users.ts';
import { notificationRoutes } from '../../routes/notifications.ts';
import { pushTokenRoutes } from '../../routes/pushTokens.ts';
import { paymentRoutes } from '../../routes/payments.ts';
import { paymentWebhookRoutes } from '../../routes/webhooks/payments.ts';
import { sandboxRoutes } from '../../routes/sandbox.ts';
import { storageRoutes } from '../../routes/storage.ts';
import { socketEventDocs, type NamespaceSpec } from '../../realtime/index.ts';

export function createHttpApp(ctx: AppContext, services: Services, opts: { isShuttingDown: () => boolean; version: string; namespaces: NamespaceSpec[] }) {
  // Only the last TRUST_PROXY_HOPS entries of X-Forwarded-For were written by our proxies.
  const app = new Koa({ proxy: ctx.config.TRUST_PROXY, maxIpsCount: ctx.config.TRUST_PROXY_HOPS });
  // Koa reports errors it could not send (mostly clients that hung up) here; they belong in our log, not on stderr.
  app.on('error', (err: Error) => {
    if (isClientGone(err)) ctx.logger.debug({ err: err.message }, 'client went away');
    else ctx.logger.error({ err }, 'koa error');
  });
  const api = createApi({ orm: ctx.db.orm, bodyLimitBytes: ctx.config.BODY_LIMIT_BYTES, tokens: ctx.tokens, activeSession: services.users.authorize, limits: createLimits(ctx), metrics: ctx.metrics, idempotency: (opts, work) => withIdempotency(ctx.db.orm.em, opts, work) });

  const checks: ReadinessCheck[] = [
    { name: 'postgres', check: async () => void (await ctx.db.orm.em.fork().execute('select 1')) },
    ...(ctx.redis ? [{ name: 'redis', check: async () => void (await ctx.redis!.client.ping()) }] : []),
  ];
  healthRoutes(api, {
    checks,
    metricsText: () => ctx.metrics.registry.metrics(),
    metricsContentType: ctx.metrics.registry.contentType,
    metricsToken: ctx.config.METRICS_TOKEN,
    isShuttingDown: opts.isShuttingDown,
  });
  authRoutes(api, services);
  userAdminRoutes(api, services);
  notificationRoutes(api, services);
  pushTokenRoutes(api, services);
  paymentRoutes(api, { payments: services.payments });
  pointRoutes(api, { points: services.points, clock: ctx.clock, timeZone: ctx.config.TIME_ZONE });
  paymentWebhookRoutes(api, { webhooks: services.webhooks, providers: [...ctx.paymentProviders.keys(), 'revenuecat'] });
  if (ctx.paymentProviders.get('sandbox')) sandboxRoutes(api, { payments: services.payments });
  if (ctx.devIssuer) devOAuthRoutes(api, { devIssuer: ctx.devIssuer, providers: ctx.oauthVerifiers.map((v) => v.provider) });
  if (ctx.localStorageDriver) storageRoutes(api, { storage: ctx.localStorageDriver, maxUploadBytes: ctx.config.STORAGE_MAX_UPLOAD_BYTES });
  for (const m of services.modules) m.def.routes?.(api, m.services, m.platform);

  docsRoutes(api, () => buildOpenApiDocument({ paths: api.paths, socketEvents: socketEventDocs(opts.namespaces), version: opts.version }));
  const allowedOrigins = new Set(ctx.config.CORS_ORIGINS);

  app.use(requestContextMiddleware({ logger: ctx.logger, metrics: ctx.metrics }));
  app.use(problemMiddleware(ctx.logger));
  // The headers OWASP's REST guidance asks of a JSON API (CSP, HSTS, nosniff, frame denial,
  // referrer and resource policy); helmet's document-only ones (DNS prefetch, IE download options,
  // origin-agent-cluster, Flash policies) are left out: every header costs on every response.
  // The docs page sets its own, looser CSP.
  app.use(securityHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  }));
  app.use(cors({
    origin: (c) => (allowedOrigins.has(c.get('origin')) ? c.get('origin') : ''),
    credentials: true,
    exposeHeaders: ['X-Request-Id', 'Retry-After'],
  }));
  app.use(api.routes());
  return app;
}
