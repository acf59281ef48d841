import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    // The email is never stored in plain text (services/identity/emails.ts): a keyed hash of the
    // lower-cased address for lookup and uniqueness, and its AES-256-GCM ciphertext. Both null for
    // social-only accounts without an address.
    emailHash: p.string().nullable().unique().hidden(),
    emailEncrypted: p.text().nullable().hidden(),
    username: p.string().unique(),
    displayName: p.string().nullable(),
    // argon2id PHC string; null when the account only signs in through a provider.
    passwordHash: p.string().nullable().hidden(),
    role: p.enum([...USER_ROLES]).default('user'),
    disabledAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type User = InferEntity<typeof User>;
