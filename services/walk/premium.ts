// The premium gate of the walk app, in one place. Premium is what the walk subscriptions of every
// provider (Toss recurring billing, the App Store, Google Play) grant together: access lasts until
// the latest period end (or payment-retry grace) of a subscription that is active or cancelled-but-
// running. Every premium feature asks premiumFeatures(); walk_profiles.premium_until mirrors the
// same answer (syncPremiumUntil, in the transaction that changed a subscription) because the
// profile shows it.
import { z } from 'zod';
import type { Em } from '../transaction.ts';

export const WALK_MODULE = 'walk';
// Free walkers see this many days of their own walk history (list and calendar); premium, all of it.
export const FREE_HISTORY_DAYS = 90;

export const premiumFeaturesDto = z
  .object({
    adFree: z.boolean().meta({ description: 'No ads in the app' }),
    historyDays: z.number().int().nullable().meta({ description: `How many days of my walk history the list and calendar show (null: all; free: ${FREE_HISTORY_DAYS})` }),
    badgeRarity: z.boolean().meta({ description: 'Badges show how many walkers earned them (GET /badges: earnedShare)' }),
  })
  .meta({ id: 'WalkPremiumFeatures' });

export type PremiumFeatures = z.infer<typeof premiumFeaturesDto> & { premium: boolean; premiumUntil: Date | null; historyFrom: Date | null };

// When the user's premium ends: the latest end of a walk subscription still granting access (null: none ever).
export async function accessUntil(db: Em, userId: string): Promise<Date | null> {
  const [r] = await db.execute<{ until: Date | null }[]>(
    `select max(greatest(current_period_end, grace_until)) as until from subscriptions
      where user_id = ? and module = ? and status in ('active', 'cancelled')`,
    [userId, WALK_MODULE],
  );
  return r?.until ? new Date(r.until) : null;
}

export function featuresAt(until: Date | null, now: Date): PremiumFeatures {
  const premium = until !== null && until.getTime() > now.getTime();
  return {
    premium,
    premiumUntil: until,
    adFree: premium,
    historyDays: premium ? null : FREE_HISTORY_DAYS,
    historyFrom: premium ? null : new Date(now.getTime() - FREE_HISTORY_DAYS * 86_400_000),
    badgeRarity: premium,
  };
}

export async function premiumFeatures(db: Em, userId: string, now: Date): Promise<PremiumFeatures> {
  return featuresAt(await accessUntil(db, userId), now);
}

export async function isPremium(db: Em, userId: string, now: Date): Promise<boolean> {
  return (await premiumFeatures(db, userId, now)).premium;
}

// The profile's premium_until set to the gate's answer, in the caller's transaction (the profile is
// made here if the walker has none yet, as GET /walk/profile would). The profile row is locked before
// the subscriptions are read: two providers' changes of one walker committing at once would otherwise
// each write a maximum that misses the other's row; the second now waits and reads the first's.
export async function syncPremiumUntil(tx: Em, userId: string): Promise<Date | null> {
  await tx.execute(
    `insert into walk_profiles (user_id, nickname) select id, left(coalesce(display_name, username), 30) from users where id = ? on conflict (user_id) do nothing`,
    [userId],
  );
  await tx.execute(`select 1 from walk_profiles where user_id = ? for update`, [userId]);
  const until = await accessUntil(tx, userId);
  await tx.execute(`update walk_profiles set premium_until = ?, updated_at = now() where user_id = ? and premium_until is distinct from ?`, [until, userId, until]);
  return until;
}
