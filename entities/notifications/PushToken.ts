import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { PUSH_PLATFORMS } from '../../integrations/push/index.ts';

// A device's push token. A token names one app install, so it belongs to whichever account signed
// in on that device last (unique token, re-pointed on registration).
export const PushToken = defineEntity({
  name: 'PushToken',
  tableName: 'push_tokens',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    userId: p.uuid().index(),
    platform: p.enum([...PUSH_PLATFORMS]),
    token: p.text().unique(),
    lastSeenAt: p.datetime().onCreate(() => new Date()),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type PushToken = InferEntity<typeof PushToken>;
