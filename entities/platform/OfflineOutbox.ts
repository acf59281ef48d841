import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const OUTBOX_CHANNELS = ['push', 'sms'] as const;

// What the offline push and SMS drivers would have sent, for a developer to inspect. Phone numbers
// and device tokens are masked before they get here.
export const OfflineOutbox = defineEntity({
  name: 'OfflineOutbox',
  tableName: 'offline_outbox',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    channel: p.enum([...OUTBOX_CHANNELS]),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type OfflineOutbox = InferEntity<typeof OfflineOutbox>;
