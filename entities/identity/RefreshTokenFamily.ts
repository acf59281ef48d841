import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// One sign-in session: every refresh token rotated from the same login belongs to one family, so
// presenting a spent token can revoke the whole chain (reuse detection).
export const RefreshTokenFamily = defineEntity({
  name: 'RefreshTokenFamily',
  tableName: 'refresh_token_families',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    userId: p.uuid().index(),
    userAgent: p.string().nullable(),
    // The app module the sign-in named (services/identity/auth.ts): refreshes keep its token lifetimes.
    app: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    revokedReason: p.string().nullable(),
  },
});
export type RefreshTokenFamily = InferEntity<typeof RefreshTokenFamily>;
