// Operational probes: /health (the process is up), /ready (its dependencies answer), /metrics.
import crypto from 'node:crypto';
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import { bearerToken } from '../server/http/auth.ts';
import { unauthorized } from '../services/errors.ts';

export type ReadinessCheck = { name: string; check: () => Promise<void> };

const readiness = z.object({ status: z.enum(['ready', 'unavailable']), checks: z.record(z.string(), z.string()) });

export function healthRoutes(api: Api, deps: { checks: ReadinessCheck[]; metricsText: () => Promise<string>; metricsContentType: string; metricsToken?: string; isShuttingDown: () => boolean }): void {
  api.route({
    method: 'get', path: '/health', summary: 'Liveness: the process is up', tags: ['operations'], auth: 'none', rateLimit: 'none', usesDatabase: false,
    responses: { 200: { description: 'Up', schema: z.object({ status: z.literal('ok') }) } },
    handler: () => ({ body: { status: 'ok' } }),
  });

  api.route({
    method: 'get', path: '/ready', summary: 'Readiness: Postgres and (if configured) Redis answer', tags: ['operations'], auth: 'none', rateLimit: 'none', usesDatabase: false,
    responses: { 200: { description: 'Ready', schema: readiness }, 503: { description: 'A dependency is down or the node is shutting down', schema: readiness } },
    handler: async () => {
      const checks: Record<string, string> = {};
      // A draining node reports unready so the load balancer stops sending it traffic.
      if (deps.isShuttingDown()) checks.node = 'shutting down';
      await Promise.all(deps.checks.map(async (c) => {
        try {
          await withTimeout(c.check(), 2000);
          checks[c.name] = 'ok';
        } catch (err) {
          checks[c.name] = (err as Error).message || 'failed';
        }
      }));
      const ok = Object.values(checks).every((v) => v === 'ok');
      return { status: ok ? 200 : 503, body: { status: ok ? 'ready' : 'unavailable', checks } };
    },
  });

  // A scrape token is not a user's access token, so it is checked here rather than by route auth.
  const metricsToken = deps.metricsToken ? sha256(deps.metricsToken) : undefined;
  api.route({
    method: 'get', path: '/metrics', summary: 'Prometheus metrics of this node (Bearer METRICS_TOKEN when configured)', tags: ['operations'], auth: 'none', rateLimit: 'none', usesDatabase: false,
    responses: { 200: { description: 'Prometheus text format' }, 401: { description: 'METRICS_TOKEN is configured and the request did not present it' } },
    handler: async ({ ctx }) => {
      if (metricsToken) {
        const presented = bearerToken(ctx.get('authorization'));
        // Comparing digests keeps the comparison constant-time whatever the presented length.
        if (!presented || !crypto.timingSafeEqual(sha256(presented), metricsToken)) {
          throw unauthorized('metrics_token_required', 'Send the scrape token as "Authorization: Bearer <METRICS_TOKEN>"');
        }
      }
      return { body: await deps.metricsText(), headers: { 'Content-Type': deps.metricsContentType } };
    },
  });
}

function sha256(text: string): Buffer {
  return crypto.createHash('sha256').update(text).digest();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}
