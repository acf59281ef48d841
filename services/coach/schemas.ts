// Shapes of the coach's asks and answers, shared by the socket events and the REST routes.
import { z } from 'zod';

const tag = z.string().trim().min(1).max(40);

export const askInput = z.object({
  question: z.string().trim().min(2, 'must be at least 2 characters').max(4000, 'must be at most 4000 characters'),
  game: z.string().trim().min(1).max(40).regex(/^[a-z0-9_-]+$/, 'lower-case letters, digits, "-" and "_"'),
  category: z.string().trim().min(1).max(40).optional(),
  tags: z.array(tag).max(10).optional(),
});
export type AskInput = z.infer<typeof askInput>;

export const sourceDto = z.object({ chunkId: z.string(), documentId: z.string(), title: z.string(), score: z.number(), url: z.string().nullable().optional() });

export const usageDto = z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() });

// What every finished answer reports, over the socket (answer.done) and REST alike.
const answerOutcome = z.object({
  sources: z.array(sourceDto),
  usage: usageDto,
  costUsd: z.number(),
  cached: z.boolean(),
  cacheKind: z.enum(['exact', 'semantic']).nullable(),
  planRemaining: z.number().int(),
  model: z.string().nullable(),
  provider: z.string().nullable().meta({ description: '"offline" when the offline LLM driver answered, "cache" for a cached answer' }),
});

export const askResult = z
  .object({
    answerId: z.uuid(),
    answer: z.string(),
    ...answerOutcome.shape,
  })
  .meta({ id: 'CoachAnswer' });
export type AskResult = z.infer<typeof askResult>;

// What the /coach namespace sends while an answer streams. Offsets count UTF-16 code units
// (JavaScript string length).
export const answerDelta = z.object({ answerId: z.uuid(), offset: z.number().int().min(0), text: z.string() });

export const answerDone = z.object({
  answerId: z.uuid(),
  ...answerOutcome.shape,
  length: z.number().int().min(0).meta({ description: 'Total characters of the answer: a client holding fewer asks answer.resume for the rest' }),
});
export type AnswerDone = z.infer<typeof answerDone>;

export const answerFailure = z.object({
  answerId: z.uuid(),
  code: z.string().meta({ description: 'cancelled, answer_timeout, answer_interrupted (the server shut down), answer_lost (the server generating it stopped), or the error\'s code' }),
  message: z.string(),
  offset: z.number().int().min(0).meta({ description: 'Characters generated before it ended (kept in the history)' }),
  quotaReturned: z.boolean().meta({ description: 'Whether the call was given back to the plan\'s quota' }),
});
export type AnswerFailure = z.infer<typeof answerFailure>;

export const resumeInput = z.object({ answerId: z.uuid(), offset: z.number().int().min(0) });
export const cancelInput = z.object({ answerId: z.uuid() });

export const historyItem = z
  .object({
    answerId: z.uuid(),
    game: z.string(),
    category: z.string().nullable(),
    tags: z.array(z.string()),
    question: z.string(),
    answer: z.string(),
    status: z.enum(['streaming', 'done', 'failed', 'cancelled']),
    cached: z.boolean(),
    costUsd: z.number(),
    sources: z.array(sourceDto),
    createdAt: z.string(),
  })
  .meta({ id: 'CoachHistoryItem' });
export type HistoryItem = z.infer<typeof historyItem>;

export const historyQuery = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  game: z.string().max(40).optional(),
});

// What the /coach namespace pushes to clients (the module declares these; they type its emits and document them).
export const coachServerEvents = {
  'answer.delta': { summary: 'The next piece of an answer, at its offset (UTF-16 code units)', schema: answerDelta },
  'answer.done': { summary: 'The answer is complete: sources, usage, cost, cache and plan figures', schema: answerDone },
  'answer.error': { summary: 'The answer failed or was cancelled at this offset', schema: answerFailure },
};
