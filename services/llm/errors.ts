// The gateway's typed errors. They are AppErrors, so a route or socket handler that lets one
// escape answers with the right status and a stable code; the provider's own message (which can
// quote our prompt or key prefix) never reaches a client — it stays in `cause` for the log.
import { AppError } from '../errors.ts';
import type { TokenUsage } from '../../integrations/llm/index.ts';

// What was generated and spent before a streamed call was cut short; callers that meter usage
// (plan quotas, points) still owe the provider for these tokens.
export type PartialOutcome = { text: string; usage: TokenUsage; costUsd: number; model: string; provider: string };

export class LlmError extends AppError {
  readonly partial?: PartialOutcome;
  constructor(status: number, code: string, message: string, opts: { issues?: { field: string; message: string }[]; extra?: Record<string, unknown>; partial?: PartialOutcome; cause?: unknown } = {}) {
    super(status, code, message, { issues: opts.issues, extra: opts.extra });
    this.name = 'LlmError';
    this.partial = opts.partial;
    if (opts.cause !== undefined) this.cause = opts.cause;
  }
}

export function promptTooLong(tokens: number, limit: number): LlmError {
  const message = `the prompt is ${tokens} tokens; the limit is ${limit}`;
  return new LlmError(400, 'prompt_too_long', `Prompt too long: ${message}`, { issues: [{ field: 'messages', message }], extra: { limit, tokens } });
}

export function inputTooLong(field: string, size: number, limit: number, unit: string): LlmError {
  const message = `${size} ${unit}; the limit is ${limit}`;
  return new LlmError(400, 'input_too_long', `Input too long: ${field} is ${message}`, { issues: [{ field, message }], extra: { limit } });
}

export function invalidInput(field: string, message: string): LlmError {
  return new LlmError(400, 'validation_failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

export function llmBusy(module: string): LlmError {
  return new LlmError(503, 'llm_busy', 'Too many AI requests are in progress; try again shortly', { extra: { module, retryAfter: 1 } });
}

export function llmCancelled(partial?: PartialOutcome): LlmError {
  // 499 (nginx's "client closed request"): nobody is left to read it, but logs and metrics are.
  return new LlmError(499, 'llm_cancelled', 'The AI request was cancelled', { partial });
}

export function llmUnavailable(cause?: unknown): LlmError {
  return new LlmError(503, 'llm_unavailable', 'The AI service is unavailable; try again shortly', { extra: { retryAfter: 5 }, cause });
}

export function llmInterrupted(partial: PartialOutcome, cause: unknown): LlmError {
  return new LlmError(503, 'llm_interrupted', 'The AI answer was interrupted; try again', { partial, cause });
}

export function llmRejected(cause: unknown, contentFiltered: boolean): LlmError {
  return contentFiltered
    ? new LlmError(422, 'llm_content_filtered', 'The AI service refused this content', { cause })
    : new LlmError(422, 'llm_request_rejected', 'The AI service rejected this request', { cause });
}
