// Per request: an id (taken from X-Request-Id when the load balancer set one), the access log line
// and the latency metric. Log lines carry the id as a field rather than through a child logger,
// whose per-request redaction setup cost more than the rest of this middleware.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function requestContextMiddleware(deps: { logger: Logger; metrics: Metrics }): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // The route template, not the raw path, keeps the metric's label set bounded.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, ms / 1000);
      const line = { requestId, method: ctx.method, route, status: ctx.status, ms };
      if (ctx.status >= 500) deps.logger.error(line, 'request failed');
      else if (deps.logger.isLevelEnabled('info')) deps.logger.info(line, 'request');
    }
  };
}
