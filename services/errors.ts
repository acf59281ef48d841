// Typed domain errors. Services throw these; toErrorBody() below is the one mapping from a thrown
// value to what a client sees, rendered by server/http/problem.ts as RFC 9457 problem+json and by
// realtime/events.ts as a socket ack. Anything else that escapes is a 500 whose message is never
// shown to the client.

// `in` says where the field was: body, query, path, or a socket event's payload.
export type FieldIssue = { field: string; message: string; in?: string };

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: FieldIssue[];
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: string, message: string, opts: { issues?: FieldIssue[]; extra?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.issues = opts.issues ?? [];
    this.extra = opts.extra ?? {};
  }
}

export function validationError(issues: FieldIssue[], message?: string): AppError {
  const summary = message ?? issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return new AppError(400, 'validation_failed', summary, { issues });
}

export function badRequest(code: string, message: string, field?: string): AppError {
  return new AppError(400, code, message, { issues: field ? [{ field, message }] : [] });
}

export function unauthorized(code: string, message: string): AppError {
  return new AppError(401, code, message);
}

export function forbidden(code: string, message: string): AppError {
  return new AppError(403, code, message);
}

export function notFound(what: string): AppError {
  return new AppError(404, 'not_found', `${what} not found`);
}

export function conflict(code: string, message: string, field?: string): AppError {
  return new AppError(409, code, message, { issues: field ? [{ field, message }] : [] });
}

export function tooManyRequests(code: string, message: string, retryAfterSeconds: number): AppError {
  return new AppError(429, code, message, { extra: { retryAfter: retryAfterSeconds } });
}

export function unavailable(code: string, message: string): AppError {
  return new AppError(503, code, message);
}

// What a client learns about a failure, on either transport: a stable code, a message, the fields
// at fault, and whatever the error adds (resetAt, limit, retryAfter, ...).
export type ErrorBody = { status: number; code: string; message: string; errors?: FieldIssue[]; [extra: string]: unknown };

// Names an error's extra fields may not take: they would overwrite what every client relies on.
const RESERVED = new Set(['status', 'code', 'message', 'errors']);

// Maps any thrown value to what the client sees. An AppError keeps its status, code, message,
// issues and extra fields; anything else is a 500 whose own message stays in the log.
export function toErrorBody(err: unknown): ErrorBody {
  if (!(err instanceof AppError)) return { status: 500, code: 'internal_error', message: 'An unexpected error occurred' };
  const body: ErrorBody = { status: err.status, code: err.code, message: err.message };
  if (err.issues.length) body.errors = err.issues;
  for (const [k, v] of Object.entries(err.extra)) if (!RESERVED.has(k)) body[k] = v;
  return body;
}
