import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// A user's push preferences. Absent row = defaults (every category on except marketing, which
// Korean law requires to be opt-in). Quiet hours are wall-clock times in the user's own zone.
export const NotificationSetting = defineEntity({
  name: 'NotificationSetting',
  tableName: 'notification_settings',
  properties: {
    userId: p.uuid().primary(),
    paymentEnabled: p.boolean().default(true),
    socialEnabled: p.boolean().default(true),
    chatEnabled: p.boolean().default(true),
    walkEnabled: p.boolean().default(true),
    marketingEnabled: p.boolean().default(false),
    // Notification types switched off one by one (a module's declared types; see settings.ts).
    mutedTypes: p.array<string>().default([]),
    // When marketing was last switched on: proof of consent, which must be re-confirmed periodically.
    marketingConsentedAt: p.datetime().nullable(),
    quietStart: p.time().nullable(),
    quietEnd: p.time().nullable(),
    timeZone: p.string(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type NotificationSetting = InferEntity<typeof NotificationSetting>;
