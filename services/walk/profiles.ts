// A walker's profile in the walk app: nickname, region, premium state and home zones. The account is
// the platform's; the profile is made on first use (GET or PUT /walk/profile) with the account's
// username as nickname. Home zones are private: only their owner reads them; other people see their
// effect (routes cut at the start and end, live positions blurred inside them).
import { z } from 'zod';
import { notFound } from '../errors.ts';
import { zoneCalendar, type Clock, type TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import { blockedEitherWay } from './social.ts';
import { featuresAt } from './premium.ts';

export const MAX_HOME_ZONES = 3;

export const homeZone = z.object({
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
  radiusM: z.number().int().min(50).max(2000).meta({ description: 'Metres, 50..2000' }),
});
export type HomeZone = z.infer<typeof homeZone>;

export const profileInput = z.object({
  nickname: z.string().trim().min(1).max(30).optional(),
  region: z.string().trim().min(1).max(50).nullable().optional().meta({ description: 'e.g. "서울 마포구": the regional rankings compare walkers of one region' }),
  homeZones: z.array(homeZone).max(MAX_HOME_ZONES).optional(),
});

const streakDto = z.object({
  current: z.number().int().meta({ description: 'Consecutive KST days with a trusted walk, up to today or yesterday' }),
  longest: z.number().int(),
  lastWalkDate: z.string().nullable(),
});

export const profileDto = z
  .object({
    userId: z.uuid(),
    nickname: z.string(),
    region: z.string().nullable(),
    premium: z.boolean(),
    premiumUntil: z.string().nullable(),
    adFree: z.boolean().meta({ description: 'Premium: the app shows no ads (services/walk/premium.ts)' }),
    homeZones: z.array(homeZone).meta({ description: 'Yours only' }),
    streak: streakDto,
  })
  .meta({ id: 'WalkProfile' });
export type ProfileDto = z.infer<typeof profileDto>;

export const publicProfileDto = profileDto.omit({ homeZones: true, premiumUntil: true, adFree: true }).meta({ id: 'WalkPublicProfile' });

type Row = {
  user_id: string; nickname: string; region: string | null; premium_until: Date | null; home_zones: HomeZone[];
  current_streak: number; longest_streak: number; last_walk_date: string | null;
};

export function createProfileService(deps: { em: Em; time: TimeFormatter; clock: Clock }) {
  const { em, time, clock } = deps;
  const calendar = zoneCalendar(time.zone);

  // The streak as of now: one whose last walk was before yesterday (KST) has ended.
  const currentStreak = (r: Row): number => {
    if (!r.last_walk_date) return 0;
    const today = calendar.localDate(clock.now());
    const yesterday = calendar.localDate(new Date(calendar.day(clock.now()).start.getTime() - 1));
    return r.last_walk_date === today || r.last_walk_date === yesterday ? r.current_streak : 0;
  };
  const toDto = (r: Row): ProfileDto => ({
    userId: r.user_id, nickname: r.nickname, region: r.region,
    premium: r.premium_until !== null && new Date(r.premium_until).getTime() > clock.now().getTime(),
    premiumUntil: r.premium_until ? time.format(new Date(r.premium_until)) : null,
    // premium_until mirrors the premium gate (services/walk/premium.ts syncPremiumUntil), so this is its answer.
    adFree: featuresAt(r.premium_until ? new Date(r.premium_until) : null, clock.now()).adFree,
    homeZones: r.home_zones,
    streak: { current: currentStreak(r), longest: r.longest_streak, lastWalkDate: r.last_walk_date },
  });

  const SELECT = `select user_id, nickname, region, premium_until, home_zones, current_streak, longest_streak, to_char(last_walk_date, 'YYYY-MM-DD') as last_walk_date from walk_profiles`;

  // The profile row, made from the account on first use.
  async function ensure(db: Em, userId: string): Promise<Row> {
    await db.execute(`insert into walk_profiles (user_id, nickname) select id, left(coalesce(display_name, username), 30) from users where id = ? on conflict do nothing`, [userId]);
    const [r] = await db.execute<Row[]>(`${SELECT} where user_id = ?`, [userId]);
    if (!r) throw notFound('User');
    return r;
  }

  async function mine(userId: string): Promise<ProfileDto> {
    return toDto(await ensure(em.fork(), userId));
  }

  async function update(userId: string, input: z.infer<typeof profileInput>): Promise<ProfileDto> {
    const db = em.fork();
    await ensure(db, userId);
    const set: string[] = [];
    const values: unknown[] = [];
    if (input.nickname !== undefined) set.push('nickname = ?') && values.push(input.nickname);
    if (input.region !== undefined) set.push('region = ?') && values.push(input.region);
    if (input.homeZones !== undefined) set.push('home_zones = ?::jsonb') && values.push(JSON.stringify(input.homeZones));
    if (set.length) await db.execute(`update walk_profiles set ${set.join(', ')}, updated_at = now() where user_id = ?`, [...values, userId]);
    return mine(userId);
  }

  // Someone's profile as others see it (no home zones, no premium date).
  async function publicProfile(viewerId: string, userId: string): Promise<z.infer<typeof publicProfileDto>> {
    const db = em.fork();
    const [r] = await db.execute<Row[]>(`${SELECT} where user_id = ?`, [userId]);
    if (!r || (await blockedEitherWay(db, viewerId, userId))) throw notFound('Walker');
    const { homeZones: _zones, premiumUntil: _until, adFree: _adFree, ...dto } = toDto(r);
    return dto;
  }

  // Home zones of a user, for cutting routes and blurring positions (no profile: none).
  async function homeZonesOf(db: Em, userId: string): Promise<HomeZone[]> {
    const [r] = await db.execute<{ home_zones: HomeZone[] }[]>(`select home_zones from walk_profiles where user_id = ?`, [userId]);
    return r?.home_zones ?? [];
  }

  return { ensure, mine, update, publicProfile, homeZonesOf };
}

export type ProfileService = ReturnType<typeof createProfileService>;
