import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const ANSWER_STATUSES = ['streaming', 'done', 'failed', 'cancelled'] as const;
export type AnswerSource = { chunkId: string; documentId: string; title: string; score: number; url?: string | null };

// One ask: the question, the answer as it stands, and what it cost. It is the user's history and
// the operators' call log at once.
export const CoachAnswer = defineEntity({
  name: 'CoachAnswer',
  tableName: 'coach_answers',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    userId: p.uuid(),
    game: p.string(),
    category: p.string().nullable(),
    tags: p.array<string>().default([]),
    question: p.text(),
    answer: p.text().default(''),
    status: p.enum([...ANSWER_STATUSES]),
    planTier: p.string(),
    model: p.string().nullable(),
    provider: p.string().nullable(),
    promptTokens: p.integer().default(0),
    completionTokens: p.integer().default(0),
    costUsd: p.decimal('number').default(0),
    isCached: p.boolean().default(false),
    cacheKind: p.enum(['exact', 'semantic']).nullable(),
    sources: p.json<AnswerSource[]>().default([]),
    latencyMs: p.integer().nullable(),
    errorCode: p.string().nullable(),
    quotaReturned: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    finishedAt: p.datetime().nullable(),
  },
});
export type CoachAnswer = InferEntity<typeof CoachAnswer>;
