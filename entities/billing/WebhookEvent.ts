import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// Each provider event once: (provider, eventId) is unique, so a redelivery is recognised and answered 2xx.
export const WebhookEvent = defineEntity({
  name: 'WebhookEvent',
  tableName: 'webhook_events',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    provider: p.string(),
    eventId: p.string(),
    eventType: p.string(),
    payload: p.json<Record<string, unknown>>(),
    receivedAt: p.datetime().onCreate(() => new Date()),
    processedAt: p.datetime().nullable(),
    outcome: p.string().nullable(),
  },
  uniques: [{ properties: ['provider', 'eventId'] }],
});
export type WebhookEvent = InferEntity<typeof WebhookEvent>;
