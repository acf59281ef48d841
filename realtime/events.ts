// The one way a socket event is handled: per-socket rate limit, zod validation of the payload,
// a MikroORM RequestContext for the handler, and an ack of { ok: true, ... } or
// { ok: false, error: { code, message, errors?, ...extra } }: the same toErrorBody() a REST answer is
// built from, less the HTTP status. Domain errors keep their code; others become internal_error.
import { RequestContext } from '@mikro-orm/core';
import { hostileStrings } from '../services/hostileInput.ts';
import type { DefaultEventsMap, Socket } from 'socket.io';
import type { ZodType, z } from 'zod';
import { AppError, toErrorBody, tooManyRequests, validationError, type FieldIssue } from '../services/errors.ts';
import type { AccessClaims } from '../services/identity/tokens.ts';
import type { Orm } from '../server/db.ts';
import type { Logger } from '../server/logger.ts';
import type { Metrics } from '../server/metrics.ts';
import type { Limiter } from '../services/limiter.ts';

export type SocketEventDoc = {
  namespace: string;
  event: string;
  direction: 'client-to-server' | 'server-to-client';
  summary: string;
  schema: ZodType;
};

// What a failed event's ack carries: toErrorBody() without the HTTP status.
export type AckError = { code: string; message: string; errors?: FieldIssue[]; [extra: string]: unknown };
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

export function bindClientEvent<S extends ZodType>(namespace: string, socket: AppSocket, spec: ClientEvent<S>, deps: EventDeps): void {
  socket.on(spec.event, async (...args: unknown[]) => {
    // A client may emit with or without a payload before its ack callback.
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
    const reply: Ack = (response) => {
      deps.metrics.socketEvents.inc({ namespace, event: spec.event, outcome: response.ok ? 'ok' : response.error.code });
      ack?.(response);
    };
    const fail = (err: unknown) => reply({ ok: false, error: toAckError(err) });
    const retryAfter = await deps.eventLimiter.consume(socket.id);
    if (retryAfter !== null) {
      deps.metrics.rateLimited.inc({ scope: 'socket' });
      return fail(tooManyRequests('rate_limited', `Too many events; retry in ${retryAfter} s`, retryAfter));
    }
    const hostile = hostileStrings(args[0], 'payload');
    if (hostile.length) return fail(validationError(hostile));
    const parsed = spec.schema.safeParse(args[0] ?? {});
    if (!parsed.success) {
      return fail(validationError(parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'payload', in: 'payload', message: i.message }))));
    }
    const { auth } = socket.data;
    try {
      const result = await RequestContext.create(deps.orm.em, () => spec.handler(parsed.data, { socket, auth }));
      reply({ ok: true, ...(result ?? {}) });
    } catch (err) {
      if (!(err instanceof AppError)) deps.logger.error({ err, namespace, event: spec.event }, 'socket event failed');
      fail(err);
    }
  });
}

export function toAckError(err: unknown): AckError {
  const { status: _status, ...error } = toErrorBody(err);
  return error;
}

export function describeClientEvents(namespace: string, events: ClientEvent<ZodType>[]): SocketEventDoc[] {
  return events.map((e) => ({ namespace, event: e.event, direction: 'client-to-server', summary: e.summary, schema: e.schema }));
}
