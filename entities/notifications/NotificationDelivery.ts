import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const DELIVERY_CHANNELS = ['socket', 'push', 'sms'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];

export const DELIVERY_OUTCOMES = [
  'delivered', // socket: emitted while the user had a live socket
  'skipped_offline', // socket: no live socket anywhere in the cluster
  'sent', // push / sms: the provider accepted it
  'skipped_online', // push: the socket already showed it
  'skipped_category_off',
  'skipped_type_off', // push / sms: the user switched this notification type off
  'skipped_quiet_hours',
  'skipped_rate_limited',
  'skipped_no_token',
  'skipped_unsupported_platform',
  'failed',
  'token_unregistered',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

// One delivery attempt of a notification on one channel, and what came of it.
export const NotificationDelivery = defineEntity({
  name: 'NotificationDelivery',
  tableName: 'notification_deliveries',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    notificationId: p.bigint('string').index(),
    channel: p.enum([...DELIVERY_CHANNELS]),
    outcome: p.enum([...DELIVERY_OUTCOMES]),
    detail: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type NotificationDelivery = InferEntity<typeof NotificationDelivery>;
