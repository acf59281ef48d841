// Per-user push preferences: which categories and which declared notification types may push, quiet
// hours, and the user's zone. A user without a row has the defaults; the row is written on the
// first change. A type pushes when its category and its own switch are both on: the category is the
// coarse switch (all of `social`), the type the fine one (a walk app's reminder, but not its badges).
import { LockMode } from '@mikro-orm/core';
import { NotificationSetting } from '../../entities/notifications/NotificationSetting.ts';
import type { NotificationCategory } from '../../entities/notifications/Notification.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { validationError } from '../errors.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { SETTING_CATEGORIES, type NotificationTypePolicy, type SettingCategory, type SettingsDto, type UpdateSettingsInput } from './schemas.ts';
import { pgArray } from '../pgArray.ts';

export type EffectiveSettings = {
  // 'category' when the category is off, 'type' when only the type's own switch is, null when it may push.
  blocks: (category: NotificationCategory, type: string) => 'category' | 'type' | null;
  quietHours: { start: string; end: string } | null;
  timeZone: string;
};

const DEFAULTS: Record<SettingCategory, boolean> = { payment: true, social: true, chat: true, walk: true, marketing: false };

const column = (category: SettingCategory) => `${category}Enabled` as const;
const COLUMN_SQL: Record<SettingCategory, string> = { payment: 'payment_enabled', social: 'social_enabled', chat: 'chat_enabled', walk: 'walk_enabled', marketing: 'marketing_enabled' };

export function createNotificationSettings(deps: {
  em: Em; time: TimeFormatter; clock: Clock; defaultTimeZone: string;
  // Every declared notification type (all listed modules'), by name.
  types?: Readonly<Record<string, NotificationTypePolicy>>;
}) {
  const { time } = deps;
  // The types a user may switch off: every declared one outside `system`, in name order.
  const switchable = Object.keys(deps.types ?? {}).filter((t) => deps.types![t].category !== 'system').sort();

  function toDto(row: NotificationSetting | null): SettingsDto {
    const categories = Object.fromEntries(SETTING_CATEGORIES.map((c) => [c, row ? row[column(c)] : DEFAULTS[c]])) as Record<SettingCategory, boolean>;
    const muted = new Set(row?.mutedTypes ?? []);
    return {
      categories,
      quietHours: row?.quietStart && row.quietEnd ? { start: row.quietStart.slice(0, 5), end: row.quietEnd.slice(0, 5) } : null,
      types: Object.fromEntries(switchable.map((t) => [t, !muted.has(t)])),
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
      blocks: (category, type) => {
        if (category === 'system') return null;
        if (!dto.categories[category]) return 'category';
        return dto.types[type] === false ? 'type' : null;
      },
      quietHours: dto.quietHours,
      timeZone: dto.timeZone,
    };
  }

  async function update(userId: string, input: UpdateSettingsInput): Promise<SettingsDto> {
    const unknown = Object.keys(input.types ?? {}).filter((t) => !switchable.includes(t));
    if (unknown.length > 0) {
      throw validationError(unknown.map((t) => ({
        field: `types.${t}`,
        message: deps.types?.[t] ? 'is a system notification and cannot be switched off' : 'is not a notification type (GET /notifications/settings lists them)',
      })));
    }
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
      if (input.types) {
        const muted = new Set(row.mutedTypes ?? []);
        for (const [type, on] of Object.entries(input.types)) on ? muted.delete(type) : muted.add(type);
        row.mutedTypes = [...muted].sort();
      }
      if (input.timeZone) row.timeZone = input.timeZone;
      row.updatedAt = now;
      await tx.flush();
      return toDto(row);
    });
  }

  // Of these users, the ones who switched `type` or its category off. A module asks before sending
  // what would only be a nudge (a daily reminder): without a push, it would just fill their inbox.
  async function switchedOff(userIds: string[], type: string, category: NotificationCategory): Promise<Set<string>> {
    if (category === 'system' || userIds.length === 0) return new Set();
    const rows = await deps.em.fork().execute<{ user_id: string; enabled: boolean; muted: boolean }[]>(
      `select user_id, ${COLUMN_SQL[category]} as enabled, ? = any(muted_types) as muted from notification_settings where user_id = any(?::uuid[])`,
      [type, pgArray(userIds)]);
    const off = new Set(rows.filter((r) => !r.enabled || r.muted).map((r) => r.user_id));
    // Without a row a user has the defaults: off only where the category is off by default (marketing).
    if (!DEFAULTS[category]) {
      const withRow = new Set(rows.map((r) => r.user_id));
      for (const id of userIds) if (!withRow.has(id)) off.add(id);
    }
    return off;
  }

  return { get, effective, update, switchedOff };
}

export type NotificationSettings = ReturnType<typeof createNotificationSettings>;
