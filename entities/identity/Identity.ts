import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// A user's account at an external provider (google, apple, kakao, naver): (provider, subject) is unique.
export const Identity = defineEntity({
  name: 'Identity',
  tableName: 'identities',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    userId: p.uuid().index(),
    provider: p.string(),
    subject: p.string(),
    // What the provider reported, sealed like users.email_encrypted (services/identity/emails.ts).
    emailEncrypted: p.text().nullable().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ properties: ['provider', 'subject'] }],
});
export type Identity = InferEntity<typeof Identity>;
