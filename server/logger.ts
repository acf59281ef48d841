// One pino logger for the process. Secrets are removed by key (redact paths) and emails and phone
// numbers by pattern, because they also turn up inside free-text messages and error strings.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const SECRET_KEYS = [
  'password', 'newPassword', 'token', 'accessToken', 'refreshToken', 'idToken', 'secret', 'apiKey',
  'authorization', 'cookie', 'email', 'phone', 'phoneNumber',
];

const redactPaths = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// Korean mobile numbers (010-1234-5678, +82 10 1234 5678) and generic E.164 numbers.
const PHONE = /(?:\+?82[-\s]?|0)1[016789][-\s]?\d{3,4}[-\s]?\d{4}|\+\d{10,14}/g;
const BEARER = /Bearer\s+[A-Za-z0-9._~+/-]+=*/g;

export function scrubText(text: string): string {
  return text.replace(BEARER, 'Bearer [REDACTED]').replace(EMAIL, '[EMAIL]').replace(PHONE, '[PHONE]');
}

function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  // An Error's message and stack are not enumerable: copied by hand, scrubbed, into an Error of the
  // same class, which pino's err serializer (it runs after this formatter) then writes out whole.
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value)) as Error;
    for (const [k, v] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[k] = scrubValue(v, depth + 1);
    Object.defineProperty(copy, 'message', { value: scrubText(value.message), enumerable: false, writable: true });
    if (value.stack) Object.defineProperty(copy, 'stack', { value: scrubText(value.stack), enumerable: false, writable: true });
    if (value.cause !== undefined) Object.defineProperty(copy, 'cause', { value: scrubValue(value.cause, depth + 1), enumerable: false, writable: true });
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
  return out;
}

export function createLogger(opts: { level: string; pretty: boolean; nodeId: string; destination?: NodeJS.WritableStream }): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: { node: opts.nodeId },
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    formatters: { log: (obj) => scrubValue(obj, 0) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        // The message string itself (first string argument) is scrubbed too.
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubText(a) : a));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
    transport: opts.pretty && !opts.destination ? { target: 'pino-pretty', options: { colorize: true } } : undefined,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
