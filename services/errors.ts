// Typed domain errors. Services throw these; server/http/errors.ts turns them into RFC 9457
// problem+json and realtime/events.ts into socket acks. Anything else that escapes is a 500 whose
// message is never shown to the client.

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
