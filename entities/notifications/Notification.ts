import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// `system` carries what the user cannot opt out of (account security, a paid job's result);
// the other categories are switches in notification_settings.
export const NOTIFICATION_CATEGORIES = ['payment', 'social', 'chat', 'walk', 'marketing', 'system'] as const;
export type NotificationCategory = (typeof NOTIFICATION_CATEGORIES)[number];

// One notification in a user's inbox. The id is a database sequence taken under a per-user lock, so a
// user's ids increase in commit order and "everything after id N" never skips a late commit.
export const Notification = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    userId: p.uuid(),
    type: p.string(),
    category: p.enum([...NOTIFICATION_CATEGORIES]),
    title: p.text(),
    body: p.text(),
    data: p.json<Record<string, unknown>>(),
    // (userId, dedupeKey) is unique: the same event notifies once, however often it is reported.
    dedupeKey: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    readAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['userId', 'dedupeKey'] }],
});
export type Notification = InferEntity<typeof Notification>;
