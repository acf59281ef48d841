import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// Only the SHA-256 of a refresh token is stored: a database leak yields no usable tokens.
export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    familyId: p.uuid().index(),
    userId: p.uuid(),
    tokenHash: p.string().unique(),
    expiresAt: p.datetime(),
    spentAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type RefreshToken = InferEntity<typeof RefreshToken>;
