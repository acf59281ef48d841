// Per request: an id (taken from X-Request-Id when the load balancer set one), the access log line
// and the latency metric. Log lines carry the id as a field rather than through a child logger,
// whose per-request redaction setup cost more than the rest of this middleware.
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function requestContextMiddleware(deps: { logger: Logger; metrics: Metrics }): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const incoming = ctx.req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      // The route template, not the raw path, keeps the metric's label set bounded.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const { method, status } = ctx;
      deps.metrics.httpDuration.observe({ method, route, status: String(status) }, ms / 1000);
      if (status >= 500) deps.logger.error({ requestId, method, route, status, ms }, 'request failed');
      else if (deps.logger.isLevelEnabled('info')) deps.logger.info({ requestId, method, route, status, ms }, 'request');
    }
  };
}
