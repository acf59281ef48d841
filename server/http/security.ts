// Security headers. helmet decides them; since they depend only on its options, they are computed
// once at start by running helmet against a stand-in response and then set as a constant set —
// running helmet's dozen middlewares per request cost a measurable share of a small request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import helmet, { type HelmetOptions } from 'helmet';

export function securityHeaders(options: Readonly<HelmetOptions>): Middleware {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string | number | string[]) => {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  if (Object.keys(headers).length === 0) throw new Error('helmet produced no headers (did its API become asynchronous?)');
  return async (ctx, next) => {
    ctx.set(headers);
    await next();
  };
}
