import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// The first response to a mutating payment request, replayed for a retry with the same key.
export const IdempotencyKey = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    userId: p.uuid().primary(),
    key: p.string().primary(),
    scope: p.string(),
    requestHash: p.string(),
    state: p.enum(['in_progress', 'completed']),
    responseStatus: p.integer().nullable(),
    responseBody: p.json<unknown>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
  },
});
export type IdempotencyKey = InferEntity<typeof IdempotencyKey>;
