// Per-user push preferences: which categories may push, quiet hours, and the user's zone. A user
// without a row has the defaults; the row is written on the first change.
import { LockMode } from '@mikro-orm/core';
import { NotificationSetting } from '../../entities/notifications/NotificationSetting.ts';
import type { NotificationCategory } from '../../entities/notifications/Notification.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { SETTING_CATEGORIES, type SettingCategory, type SettingsDto, type UpdateSettingsInput } from './schemas.ts';

export type EffectiveSettings = {
  allows: (category: NotificationCategory) => boolean;
  quietHours: { start: string; end: string } | null;
  timeZone: string;
};

const DEFAULTS: Record<SettingCategory, boolean> = { payment: true, social: true, chat: true, walk: true, marketing: false };

const column = (category: SettingCategory) => `${category}Enabled` as const;

export function createNotificationSettings(deps: { em: Em; time: TimeFormatter; clock: Clock; defaultTimeZone: string }) {
  const { time } = deps;

  function toDto(row: NotificationSetting | null): SettingsDto {
    const categories = Object.fromEntries(SETTING_CATEGORIES.map((c) => [c, row ? row[column(c)] : DEFAULTS[c]])) as Record<SettingCategory, boolean>;
    return {
      categories,
      quietHours: row?.quietStart && row.quietEnd ? { start: row.quietStart.slice(0, 5), end: row.quietEnd.slice(0, 5) } : null,
      timeZone: row?.timeZone ?? deps.defaultTimeZone,
      marketingConsentedAt: time.formatNullable(row?.marketingConsentedAt),
      updatedAt: time.formatNullable(row?.updatedAt),
    };
  }

  async function get(userId: string): Promise<SettingsDto> {
    return toDto(await deps.em.fork().findOne(NotificationSetting, { userId }));
  }

  async function effective(userId: string): Promise<EffectiveSettings> {
    const dto = await get(userId);
    return {
      allows: (category) => category === 'system' || dto.categories[category],
      quietHours: dto.quietHours,
      timeZone: dto.timeZone,
    };
  }

  async function update(userId: string, input: UpdateSettingsInput): Promise<SettingsDto> {
    return inTransaction(deps.em.fork(), async (tx) => {
      // Two first-time updates at once both find no row; inserting the defaults first lets them queue on the row.
      await tx.execute('insert into notification_settings (user_id, time_zone) values (?, ?) on conflict (user_id) do nothing', [userId, deps.defaultTimeZone]);
      const row = await tx.findOneOrFail(NotificationSetting, { userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const now = deps.clock.now();
      for (const category of SETTING_CATEGORIES) {
        const value = input.categories?.[category];
        if (value === undefined) continue;
        if (category === 'marketing' && value && !row.marketingEnabled) row.marketingConsentedAt = now;
        if (category === 'marketing' && !value) row.marketingConsentedAt = null;
        row[column(category)] = value;
      }
      if (input.quietHours !== undefined) {
        row.quietStart = input.quietHours?.start ?? null;
        row.quietEnd = input.quietHours?.end ?? null;
      }
      if (input.timeZone) row.timeZone = input.timeZone;
      row.updatedAt = now;
      await tx.flush();
      return toDto(row);
    });
  }

  return { get, effective, update };
}

export type NotificationSettings = ReturnType<typeof createNotificationSettings>;
