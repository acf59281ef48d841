// The one way a socket event is handled: per-socket rate limit, zod validation of the payload,
// a MikroORM RequestContext for the handler, and an ack of { ok: true, ... } or
// { ok: false, error: { code, message } }. Domain errors keep their code; others become internal_error.
import { RequestContext } from '@mikro-orm/core';
import type { DefaultEventsMap, Socket } from 'socket.io';
import type { ZodType, z } from 'zod';
import { AppError } from '../services/errors.ts';
import type { AccessClaims } from '../services/identity/tokens.ts';
import type { RealtimeNamespace } from '../services/realtime.ts';
import type { Orm } from '../server/db.ts';
import type { Logger } from '../server/logger.ts';
import type { Metrics } from '../server/metrics.ts';
import type { Limiter } from '../services/limiter.ts';

export type SocketEventDoc = {
  namespace: RealtimeNamespace;
  event: string;
  direction: 'client-to-server' | 'server-to-client';
  summary: string;
  schema: ZodType;
};

export type AckError = { code: string; message: string; fields?: { field: string; message: string }[] };
export type Ack = (response: { ok: true; [k: string]: unknown } | { ok: false; error: AckError }) => void;

export type SocketData = { auth: AccessClaims };

// Client events are typed by their zod schemas (ClientEvent<S>); socket.data by SocketData.
export type AppSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;

export type EventDeps = { orm: Orm; logger: Logger; metrics: Metrics; eventLimiter: Limiter };

export type ClientEvent<S extends ZodType> = {
  event: string;
  summary: string;
  schema: S;
  handler: (payload: z.output<S>, ctx: { socket: AppSocket; auth: AccessClaims }) => Promise<Record<string, unknown> | void>;
};

export function defineClientEvent<S extends ZodType>(spec: ClientEvent<S>): ClientEvent<S> {
  return spec;
}

export function bindClientEvent<S extends ZodType>(namespace: RealtimeNamespace, socket: AppSocket, spec: ClientEvent<S>, deps: EventDeps): void {
  socket.on(spec.event, async (...args: unknown[]) => {
    // A client may emit with or without a payload before its ack callback.
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const reply: Ack = (response) => {
      deps.metrics.socketEvents.inc({ namespace, event: spec.event, outcome: response.ok ? 'ok' : response.error.code });
      ack?.(response);
    };
    const retryAfter = await deps.eventLimiter.consume(socket.id);
    if (retryAfter !== null) {
      deps.metrics.rateLimited.inc({ scope: 'socket' });
      return reply({ ok: false, error: { code: 'rate_limited', message: `Too many events; retry in ${retryAfter} s` } });
    }
    const parsed = spec.schema.safeParse(args[0] ?? {});
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'payload', message: i.message }));
      return reply({ ok: false, error: { code: 'validation_failed', message: fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields } });
    }
    const { auth } = socket.data;
    try {
      const result = await RequestContext.create(deps.orm.em, () => spec.handler(parsed.data, { socket, auth }));
      reply({ ok: true, ...(result ?? {}) });
    } catch (err) {
      if (err instanceof AppError) return reply({ ok: false, error: { code: err.code, message: err.message } });
      deps.logger.error({ err, namespace, event: spec.event }, 'socket event failed');
      reply({ ok: false, error: { code: 'internal_error', message: 'An unexpected error occurred' } });
    }
  });
}

export function describeClientEvents(namespace: RealtimeNamespace, events: ClientEvent<ZodType>[]): SocketEventDoc[] {
  return events.map((e) => ({ namespace, event: e.event, direction: 'client-to-server', summary: e.summary, schema: e.schema }));
}
