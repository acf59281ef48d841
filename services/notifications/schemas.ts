// Shapes of the notification API: routes and socket events validate with them, services take their
// inferred types, and /openapi.json is generated from them.
import { z } from 'zod';
import { NOTIFICATION_CATEGORIES } from '../../entities/notifications/Notification.ts';
import { PUSH_PLATFORMS } from '../../integrations/push/index.ts';

// The categories a user can switch off; `system` is always on.
export const SETTING_CATEGORIES = ['payment', 'social', 'chat', 'walk', 'marketing'] as const;
export type SettingCategory = (typeof SETTING_CATEGORIES)[number];

// How the platform treats one declared notification type (modules declare theirs: server/module.ts).
// pushLimit: at most `max` pushes of the type to one user per `windowSeconds` (the rest are skipped;
// the inbox and sockets still get them); NOTIFY_PUSH_PER_TYPE_PER_HOUR per hour without one.
// Every type outside `system` has its own switch in the user's settings.
export type NotificationTypePolicy = {
  category: (typeof NOTIFICATION_CATEGORIES)[number];
  pushLimit?: { max: number; windowSeconds: number };
};

export const notificationTypeName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be a lower-case identifier such as chat.reply');

// Ids are decimal strings of a bigint sequence: JSON numbers lose precision past 2^53.
// Postgres bigint holds at most 9223372036854775807: a longer or larger id is a 400 here, not a 500 there.
const MAX_BIGINT = 9223372036854775807n;
export const notificationId = z.string().regex(/^[1-9]\d{0,18}$/, 'must be a notification id').refine((v) => !/^\d+$/.test(v) || BigInt(v) <= MAX_BIGINT, 'must be a notification id (out of range)').meta({ example: '1042' });

export const notificationDto = z
  .object({
    id: notificationId,
    type: z.string().meta({ example: 'walk.friend_started' }),
    category: z.enum(NOTIFICATION_CATEGORIES),
    title: z.string(),
    body: z.string(),
    data: z.record(z.string(), z.unknown()),
    createdAt: z.string().meta({ example: '2026-11-22T09:00:00+09:00' }),
    readAt: z.string().nullable(),
  })
  .meta({ id: 'Notification' });
export type NotificationDto = z.infer<typeof notificationDto>;

export const notificationPage = z
  .object({
    items: z.array(notificationDto),
    // Newest-first pages: pass as ?cursor= for the next (older) page; null on the last page.
    nextCursor: z.string().nullable(),
    // More items exist beyond this page (in `after` mode: newer ones; ask again with the last id).
    hasMore: z.boolean(),
    unreadCount: z.number().int(),
  })
  .meta({ id: 'NotificationPage' });
export type NotificationPage = z.infer<typeof notificationPage>;

export const listQuery = z
  .object({
    cursor: z.string().max(200).optional().meta({ description: 'nextCursor of the previous page' }),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    unread: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    after: notificationId.optional().meta({ description: 'Sync: everything newer than this id, oldest first' }),
  })
  .refine((q) => !(q.cursor && q.after), { message: 'use either cursor or after, not both', path: ['after'] });
export type ListQuery = z.infer<typeof listQuery>;

export const syncPayload = z
  .object({
    after: notificationId.optional(),
    limit: z.number().int().min(1).max(200).optional(),
  })
  .strict();
export type SyncPayload = z.infer<typeof syncPayload>;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, 00:00-23:59');

export const timeZoneSchema = z
  .string()
  .max(64)
  .refine(isTimeZone, 'must be an IANA time zone such as Asia/Seoul')
  // Stored in its canonical spelling (asia/seoul → Asia/Seoul).
  .transform((zone) => new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone);

const quietHours = z
  .object({ start: hhmm, end: hhmm })
  .strict()
  .refine((q) => q.start !== q.end, { message: 'must differ from start', path: ['end'] });

export const settingsDto = z
  .object({
    categories: z.object(Object.fromEntries(SETTING_CATEGORIES.map((c) => [c, z.boolean()])) as Record<SettingCategory, z.ZodBoolean>),
    // Pushes wait for no one: during quiet hours they are skipped (the inbox and sockets still get them).
    quietHours: z.object({ start: z.string(), end: z.string() }).nullable(),
    // One switch per declared notification type (outside `system`); a type pushes when both its category and it are on.
    types: z.record(z.string(), z.boolean()).meta({ example: { 'walk.reminder': true, 'walk.reaction': false } }),
    timeZone: z.string(),
    marketingConsentedAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
  })
  .meta({ id: 'NotificationSettings' });
export type SettingsDto = z.infer<typeof settingsDto>;

export const updateSettingsBody = z
  .object({
    categories: z
      .object(Object.fromEntries(SETTING_CATEGORIES.map((c) => [c, z.boolean().optional()])) as Record<SettingCategory, z.ZodOptional<z.ZodBoolean>>)
      .strict()
      .optional(),
    quietHours: quietHours.nullable().optional().meta({ description: 'Local wall-clock times in timeZone; null turns quiet hours off' }),
    types: z
      .record(notificationTypeName, z.boolean())
      .refine((t) => Object.keys(t).length <= 100, 'at most 100 types at once')
      .optional()
      .meta({ description: 'Switch declared notification types on or off one by one (the keys GET returns under types)' }),
    timeZone: timeZoneSchema.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'at least one field is required' });
export type UpdateSettingsInput = z.infer<typeof updateSettingsBody>;

export const pushTokenBody = z.object({
  platform: z.enum(PUSH_PLATFORMS),
  token: z.string().min(20, 'must be at least 20 characters').max(4096).regex(/^[A-Za-z0-9_:.-]+$/, 'may contain only letters, digits and _ : . -'),
});
export type PushTokenInput = z.infer<typeof pushTokenBody>;

export const pushTokenDto = z
  .object({ id: z.string(), platform: z.enum(PUSH_PLATFORMS), createdAt: z.string(), lastSeenAt: z.string() })
  .meta({ id: 'PushToken' });
export type PushTokenDto = z.infer<typeof pushTokenDto>;

// What modules pass to notify(). Validated because a bad call should fail loudly where it is made.
export const notifyInput = z.object({
  type: notificationTypeName,
  category: z.enum(NOTIFICATION_CATEGORIES),
  title: z.string().trim().min(1).max(200),
  body: z.string().max(2000).default(''),
  data: z
    .record(z.string(), z.unknown())
    .default({})
    // FCM's whole message is capped at 4 KB; the data rides along in every push.
    .refine((d) => Buffer.byteLength(JSON.stringify(d)) <= 2048, 'must serialise to at most 2 KB'),
  dedupeKey: z.string().min(1).max(200).optional(),
  channels: z
    .object({ sms: z.object({ phone: z.string().min(1).max(40), text: z.string().min(1).max(2000).optional() }).optional() })
    .optional(),
});
export type NotifyInput = z.input<typeof notifyInput>;

// What the /notifications namespace sends: a new notification, and reads (from any of the
// user's devices), each with the unread count after it.
export const notificationEvent = z.object({ notification: notificationDto, unreadCount: z.number().int().min(0) });
export type NotificationEvent = z.infer<typeof notificationEvent>;
export const notificationReadEvent = z.object({
  ids: z.array(notificationId),
  all: z.boolean().meta({ description: 'true when every notification up to now was marked read' }),
  unreadCount: z.number().int().min(0),
});
export type NotificationReadEvent = z.infer<typeof notificationReadEvent>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

// What the /notifications namespace pushes to clients.
export const notificationServerEvents = {
  notification: { summary: 'A new notification, with the unread count after it', schema: notificationEvent },
  'notification.read': { summary: 'Notifications were marked read (on any of the user\'s devices)', schema: notificationReadEvent },
};
