// Per request: an id (taken from X-Request-Id when the load balancer set one), a child logger,
// a MikroORM RequestContext (its own identity map), an access log line and the latency metric.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import { RequestContext } from '@mikro-orm/core';
import type { Orm } from '../db.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function requestContextMiddleware(deps: { orm: Orm; logger: Logger; metrics: Metrics }): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const log = deps.logger.child({ requestId });
    ctx.state.log = log;
    try {
      await RequestContext.create(deps.orm.em, next);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The route template, not the raw path, keeps the metric's label set bounded.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, seconds);
      if (ctx.status >= 500) log.error({ method: ctx.method, route, status: ctx.status, ms: seconds * 1000 }, 'request failed');
      else log.info({ method: ctx.method, route, status: ctx.status, ms: seconds * 1000 }, 'request');
    }
  };
}
