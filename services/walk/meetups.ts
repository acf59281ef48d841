// The meetups board (seed 003 `meetups`, 산책 모임 게시판): a host posts a walk at a place and time for
// 2–50 walkers; others find it nearby, join and leave; the host edits or cancels it (members are
// told after the change commits) and starts a walk-together session for its members.
//
// Capacity holds under concurrent joins without a lock held across the request: the member row and
// a guarded `member_count = member_count + 1 ... where member_count < capacity` go in one transaction.
// Concurrent joiners queue on the meetup row's update; each re-checks the guard against the count the
// one before it committed (READ COMMITTED re-evaluates the WHERE on the new row version), and a
// joiner whose guard fails rolls its member row back.
//
// Nearby search uses cube + earthdistance (docs: geo): earth_box(centre, r) @> ll_to_earth(lat, lng)
// is answered by the partial GiST index on open meetups, and the exact earth_distance drops the
// box's corners. bench/walk-meetups.ts measures it over 100k meetups.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { cursorCodec } from '../cursor.ts';
import { AppError, conflict, forbidden, notFound, validationError, type FieldIssue } from '../errors.ts';
import { clientInstant, type Clock, type TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { TogetherService } from './together.ts';
import { blockedEitherWay, NOT_BLOCKED } from './social.ts';

// ---- Limits ----

export const MEETUP_CAPACITY = { min: 2, max: 50 } as const;
export const MAX_NEARBY_RADIUS_M = 20_000;
// How far ahead a meetup may be posted, and how long one may last.
const MAX_AHEAD_DAYS = 180;
const MAX_LENGTH_HOURS = 12;
// A member (not only the host) may start the walk-together session from this long before the start:
// earlier, the session would go stale before anyone walks.
export const MEMBER_SESSION_LEAD_MS = 30 * 60_000;

// ---- Input ----

const lat = z.number().min(-90).max(90).meta({ example: 37.5665 });
const lng = z.number().min(-180).max(180).meta({ example: 126.978 });

export const meetupInput = z
  .object({
    title: z.string().trim().min(1).max(80).meta({ example: '한강 저녁 산책 모임' }),
    description: z.string().trim().max(2000).default(''),
    placeName: z.string().trim().min(1).max(120).meta({ example: '여의도 한강공원 물빛광장' }),
    lat, lng,
    startsAt: clientInstant.meta({ description: 'ISO 8601 with an offset; in the future', example: '2026-12-01T19:00:00+09:00' }),
    endsAt: clientInstant.optional().meta({ description: `After startsAt, at most ${MAX_LENGTH_HOURS} hours later` }),
    capacity: z.number().int().min(MEETUP_CAPACITY.min).max(MEETUP_CAPACITY.max).meta({ description: 'Walkers, the host included', example: 10 }),
  })
  .superRefine((m, ctx) => {
    if (m.endsAt && m.endsAt <= m.startsAt) ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'must be after startsAt' });
  });
export type MeetupInput = z.output<typeof meetupInput>;

export const meetupPatch = z
  .object({
    title: z.string().trim().min(1).max(80).optional(),
    description: z.string().trim().max(2000).optional(),
    placeName: z.string().trim().min(1).max(120).optional(),
    lat: lat.optional(), lng: lng.optional(),
    startsAt: clientInstant.optional().meta({ description: 'ISO 8601 with an offset; in the future' }),
    endsAt: clientInstant.nullable().optional().meta({ description: 'null clears it' }),
    capacity: z.number().int().min(MEETUP_CAPACITY.min).max(MEETUP_CAPACITY.max).optional().meta({ description: 'Not below the members already in' }),
  })
  .superRefine((p, ctx) => {
    if ((p.lat === undefined) !== (p.lng === undefined)) ctx.addIssue({ code: 'custom', path: ['lng'], message: 'lat and lng go together' });
    if (Object.values(p).every((v) => v === undefined)) ctx.addIssue({ code: 'custom', path: ['title'], message: 'change at least one field' });
  });
export type MeetupPatch = z.output<typeof meetupPatch>;

export const nearbyQuery = z.object({
  lat: z.coerce.number().min(-90).max(90).meta({ example: 37.5665 }),
  lng: z.coerce.number().min(-180).max(180).meta({ example: 126.978 }),
  radiusM: z.coerce.number().int().min(1).max(MAX_NEARBY_RADIUS_M).default(2000).meta({ description: `Metres, at most ${MAX_NEARBY_RADIUS_M}` }),
  from: clientInstant.optional().meta({ description: 'Only meetups starting at or after this (never before now)' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type NearbyQuery = z.output<typeof nearbyQuery>;

export const mineQuery = z.object({
  role: z.enum(['all', 'hosting', 'joined']).default('all').meta({ description: 'joined: meetups I joined and do not host' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

// ---- Output ----

const instant = z.string().meta({ description: 'ISO 8601 with the configured zone\'s offset' });
export const meetupDto = z
  .object({
    id: z.uuid(), hostId: z.uuid(), title: z.string(), description: z.string(), placeName: z.string(), lat: z.number(), lng: z.number(),
    startsAt: instant, endsAt: instant.nullable(),
    capacity: z.number().int(), memberCount: z.number().int(), spotsLeft: z.number().int(),
    status: z.enum(['open', 'cancelled', 'done']).meta({ description: 'done: an open meetup whose end (or start, without one) has passed' }),
    role: z.enum(['host', 'member']).nullable().meta({ description: 'Mine in this meetup (null: not in it)' }),
    sessionId: z.uuid().nullable().meta({ description: 'Its walk-together session, once started' }),
    distanceM: z.number().int().optional().meta({ description: 'From the searched point (nearby only)' }),
    createdAt: instant, updatedAt: instant,
  })
  .meta({ id: 'WalkMeetup' });
export type MeetupDto = z.output<typeof meetupDto>;

export const meetupDetailDto = meetupDto
  .extend({ members: z.array(z.object({ userId: z.uuid(), joinedAt: instant, host: z.boolean() })) })
  .meta({ id: 'WalkMeetupDetail' });
export type MeetupDetailDto = z.output<typeof meetupDetailDto>;

export const meetupSessionDto = z.object({
  sessionId: z.uuid(),
  created: z.boolean().meta({ description: 'false: the meetup\'s open session, started before' }),
}).meta({ id: 'WalkMeetupSession' });

// ---- The service ----

// A new time or place and a cancellation are one type (data.action says which): one switch in the user's settings.
type MeetupNotice = { type: 'walk.meetup_changed'; title: string; body: string; data: Record<string, unknown>; dedupeKey?: string };
type MeetupNotifier = (userId: string, input: MeetupNotice) => Promise<unknown>;

export type MeetupDeps = {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger;
  notify: MeetupNotifier;
  together: Pick<TogetherService, 'create'>;
};

type MeetupRow = {
  id: string; host_id: string; title: string; description: string; place_name: string; lat: number; lng: number;
  starts_at: Date; ends_at: Date | null; capacity: number; member_count: number; status: 'open' | 'cancelled' | 'done';
  session_id: string | null; created_at: Date; updated_at: Date; joined: boolean; distance_m?: number;
};

const COLUMNS = `m.id, m.host_id, m.title, m.description, m.place_name, m.lat, m.lng, m.starts_at, m.ends_at, m.capacity, m.member_count,
  m.status, m.session_id, m.created_at, m.updated_at`;
// The viewer's membership is the first parameter of every select.
const SELECT = `select ${COLUMNS}, exists (select 1 from walk_meetup_members x where x.meetup_id = m.id and x.user_id = ?) as joined from walk_meetups m`;
const mineCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

const endOf = (r: Pick<MeetupRow, 'starts_at' | 'ends_at'>) => new Date(r.ends_at ?? r.starts_at);

export function createMeetupService(deps: MeetupDeps) {
  const { em, clock, time, logger } = deps;

  function toDto(r: MeetupRow, viewerId: string): MeetupDto {
    const status = r.status === 'open' && endOf(r) < clock.now() ? 'done' : r.status;
    return {
      id: r.id, hostId: r.host_id, title: r.title, description: r.description, placeName: r.place_name, lat: r.lat, lng: r.lng,
      startsAt: time.format(new Date(r.starts_at)), endsAt: time.formatNullable(r.ends_at && new Date(r.ends_at)),
      capacity: r.capacity, memberCount: r.member_count, spotsLeft: Math.max(0, r.capacity - r.member_count), status,
      role: r.host_id === viewerId ? 'host' : r.joined ? 'member' : null, sessionId: r.session_id,
      ...(r.distance_m !== undefined ? { distanceM: Math.round(r.distance_m) } : {}),
      createdAt: time.format(new Date(r.created_at)), updatedAt: time.format(new Date(r.updated_at)),
    };
  }

  async function row(db: Em, viewerId: string, meetupId: string, lock = false): Promise<MeetupRow | undefined> {
    const [r] = await db.execute<MeetupRow[]>(`${SELECT} where m.id = ?${lock ? ' for update of m' : ''}`, [viewerId, meetupId]);
    return r;
  }

  // The meetup as the viewer may know it: a missing one and one whose host they may not see look alike.
  async function visible(db: Em, viewerId: string, meetupId: string, lock = false): Promise<MeetupRow> {
    const r = await row(db, viewerId, meetupId, lock);
    if (!r || (r.host_id !== viewerId && (await blockedEitherWay(db, viewerId, r.host_id)))) throw notFound('Meetup');
    return r;
  }

  async function hosted(db: Em, viewerId: string, meetupId: string): Promise<MeetupRow> {
    const r = await visible(db, viewerId, meetupId, true);
    if (r.host_id !== viewerId) throw forbidden('not_host', 'Only the meetup\'s host may do this');
    if (r.status === 'cancelled') throw conflict('meetup_cancelled', 'This meetup was cancelled');
    return r;
  }

  // What the clock decides (zod cannot know it: the service's clock is the test's in tests).
  function checkTimes(startsAt: Date, endsAt: Date | null, fields: { startsAt: boolean; endsAt: boolean }): void {
    const now = clock.now();
    const issues: FieldIssue[] = [];
    if (fields.startsAt && startsAt <= now) issues.push({ field: 'startsAt', in: 'body', message: 'must be in the future' });
    if (fields.startsAt && startsAt.getTime() > now.getTime() + MAX_AHEAD_DAYS * 86_400_000) issues.push({ field: 'startsAt', in: 'body', message: `at most ${MAX_AHEAD_DAYS} days ahead` });
    if (endsAt && endsAt <= startsAt) issues.push({ field: 'endsAt', in: 'body', message: 'must be after startsAt' });
    else if (endsAt && endsAt.getTime() - startsAt.getTime() > MAX_LENGTH_HOURS * 3600_000) issues.push({ field: 'endsAt', in: 'body', message: `at most ${MAX_LENGTH_HOURS} hours after startsAt` });
    if (issues.length) throw validationError(issues);
  }

  async function membersOf(db: Em, meetupId: string): Promise<{ user_id: string; joined_at: Date }[]> {
    return db.execute(`select user_id, joined_at from walk_meetup_members where meetup_id = ? order by joined_at, user_id`, [meetupId]);
  }

  // Members other than the host hear about it once the change has committed; a failed notification
  // is logged, never the request's failure.
  function tellMembers(tx: Em, members: string[], input: MeetupNotice): void {
    onCommitted(tx, () => {
      for (const userId of members) {
        void deps.notify(userId, input).catch((err: unknown) => logger.warn({ err, userId, type: input.type }, 'meetup notification not sent'));
      }
    });
  }

  // POST /meetups: the host is its first member.
  async function create(hostId: string, input: MeetupInput): Promise<MeetupDto> {
    checkTimes(input.startsAt, input.endsAt ?? null, { startsAt: true, endsAt: true });
    const id = crypto.randomUUID();
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      await tx.execute(
        `insert into walk_meetups (id, host_id, title, description, place_name, lat, lng, starts_at, ends_at, capacity, member_count, status, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 'open', ?, ?)`,
        [id, hostId, input.title, input.description, input.placeName, input.lat, input.lng, input.startsAt, input.endsAt ?? null, input.capacity, now, now]);
      await tx.execute(`insert into walk_meetup_members (meetup_id, user_id, joined_at) values (?, ?, ?)`, [id, hostId, now]);
      return toDto((await row(tx, hostId, id))!, hostId);
    });
  }

  async function get(viewerId: string, meetupId: string): Promise<MeetupDetailDto> {
    const db = em.fork();
    const r = await visible(db, viewerId, meetupId);
    const members = await membersOf(db, meetupId);
    return { ...toDto(r, viewerId), members: members.map((m) => ({ userId: m.user_id, joinedAt: time.format(new Date(m.joined_at)), host: m.user_id === r.host_id })) };
  }

  // PATCH /meetups/:id (host only, before it starts). A change of time or place tells the members.
  async function update(hostId: string, meetupId: string, patch: MeetupPatch): Promise<MeetupDto> {
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      // Locked: a join in flight either committed before (and is counted below) or waits for the new capacity.
      const r = await hosted(tx, hostId, meetupId);
      if (new Date(r.starts_at) <= now) throw conflict('meetup_started', 'A meetup cannot be changed once it has started');
      const startsAt = patch.startsAt ?? new Date(r.starts_at);
      const endsAt = patch.endsAt === undefined ? r.ends_at && new Date(r.ends_at) : patch.endsAt;
      checkTimes(startsAt, endsAt, { startsAt: patch.startsAt !== undefined, endsAt: patch.endsAt !== undefined || patch.startsAt !== undefined });
      if (patch.capacity !== undefined && patch.capacity < r.member_count) {
        throw conflict('capacity_below_members', `capacity: ${r.member_count} walkers have already joined`, 'capacity');
      }
      await tx.execute(
        `update walk_meetups set title = ?, description = ?, place_name = ?, lat = ?, lng = ?, starts_at = ?, ends_at = ?, capacity = ?, updated_at = ? where id = ?`,
        [patch.title ?? r.title, patch.description ?? r.description, patch.placeName ?? r.place_name, patch.lat ?? r.lat, patch.lng ?? r.lng,
          startsAt, endsAt, patch.capacity ?? r.capacity, now, meetupId]);
      const after = (await row(tx, hostId, meetupId))!;
      const changes = [
        new Date(after.starts_at).getTime() !== new Date(r.starts_at).getTime() || (after.ends_at && new Date(after.ends_at).getTime()) !== (r.ends_at && new Date(r.ends_at).getTime()) ? 'time' : null,
        after.place_name !== r.place_name || after.lat !== r.lat || after.lng !== r.lng ? 'place' : null,
      ].filter((c): c is 'time' | 'place' => c !== null);
      if (changes.length) {
        const members = (await membersOf(tx, meetupId)).map((m) => m.user_id).filter((u) => u !== hostId);
        tellMembers(tx, members, {
          type: 'walk.meetup_changed',
          title: `모임 ${changes.map((c) => (c === 'time' ? '시간' : '장소')).join('·')}이 바뀌었어요: ${after.title}`,
          body: `${after.place_name} · ${time.format(new Date(after.starts_at))}`,
          data: { action: 'updated', meetupId, changes, placeName: after.place_name, lat: after.lat, lng: after.lng, startsAt: time.format(new Date(after.starts_at)), endsAt: time.formatNullable(after.ends_at && new Date(after.ends_at)) },
        });
      }
      return toDto(after, hostId);
    });
  }

  // POST /meetups/:id/cancel (host only, until it ends). Cancelling again changes nothing.
  async function cancel(hostId: string, meetupId: string): Promise<MeetupDto> {
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      const r = await visible(tx, hostId, meetupId, true);
      if (r.host_id !== hostId) throw forbidden('not_host', 'Only the meetup\'s host may do this');
      if (r.status === 'cancelled') return toDto(r, hostId);
      if (endOf(r) <= now) throw conflict('meetup_over', 'This meetup is over');
      await tx.execute(`update walk_meetups set status = 'cancelled', updated_at = ? where id = ?`, [now, meetupId]);
      const members = (await membersOf(tx, meetupId)).map((m) => m.user_id).filter((u) => u !== hostId);
      tellMembers(tx, members, {
        type: 'walk.meetup_changed',
        title: `모임이 취소되었어요: ${r.title}`,
        body: `${r.place_name} · ${time.format(new Date(r.starts_at))}`,
        data: { action: 'cancelled', meetupId, title: r.title, startsAt: time.format(new Date(r.starts_at)) },
        // One cancellation, one notice, whatever retries happen.
        dedupeKey: `walk.meetup_cancelled:${meetupId}`,
      });
      return toDto((await row(tx, hostId, meetupId))!, hostId);
    });
  }

  // POST /meetups/:id/join. `joined` is false when they were in already (a retry changes nothing).
  async function join(userId: string, meetupId: string): Promise<{ meetup: MeetupDto; joined: boolean }> {
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      const r = await visible(tx, userId, meetupId);
      if (r.joined) return { meetup: toDto(r, userId), joined: false };
      const inserted = await tx.execute(
        `insert into walk_meetup_members (meetup_id, user_id, joined_at) values (?, ?, ?) on conflict do nothing returning user_id`, [meetupId, userId, now]);
      // A concurrent join of the same walker committed first.
      if (!inserted.length) return { meetup: toDto((await row(tx, userId, meetupId))!, userId), joined: false };
      // The guard is the capacity: throwing rolls the member row back.
      const taken = await tx.execute(
        `update walk_meetups set member_count = member_count + 1, updated_at = ?
         where id = ? and status = 'open' and starts_at > ? and member_count < capacity returning id`, [now, meetupId, now]);
      if (!taken.length) {
        const current = (await row(tx, userId, meetupId))!;
        if (current.status !== 'open') throw conflict('meetup_cancelled', 'This meetup was cancelled');
        if (new Date(current.starts_at) <= now) throw conflict('meetup_started', 'This meetup has started or is over: it cannot be joined');
        throw new AppError(409, 'meetup_full', `This meetup is full (${current.capacity} walkers)`, { extra: { capacity: current.capacity } });
      }
      return { meetup: toDto((await row(tx, userId, meetupId))!, userId), joined: true };
    });
  }

  // POST /meetups/:id/leave: frees the place. The host cannot leave their own meetup: they cancel it.
  async function leave(userId: string, meetupId: string): Promise<{ meetup: MeetupDto; left: boolean }> {
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      const r = await visible(tx, userId, meetupId);
      if (r.host_id === userId) throw conflict('host_cannot_leave', 'The host cannot leave their meetup; cancel it instead');
      if (!r.joined) return { meetup: toDto(r, userId), left: false };
      if (r.status === 'open' && new Date(r.starts_at) <= now) throw conflict('meetup_started', 'This meetup has started: its members stay on record');
      const deleted = await tx.execute(`delete from walk_meetup_members where meetup_id = ? and user_id = ? returning user_id`, [meetupId, userId]);
      if (deleted.length) await tx.execute(`update walk_meetups set member_count = member_count - 1, updated_at = ? where id = ?`, [now, meetupId]);
      return { meetup: toDto((await row(tx, userId, meetupId))!, userId), left: deleted.length > 0 };
    });
  }

  // GET /meetups/nearby: open meetups starting from now (or `from`, if later) within radiusM of the
  // point, nearest first; meetups of hosts either side blocked are not there.
  async function nearby(viewerId: string, q: NearbyQuery): Promise<{ items: MeetupDto[] }> {
    const now = clock.now();
    const from = q.from && q.from > now ? q.from : now;
    const rows = await em.fork().execute<MeetupRow[]>(
      `select ${COLUMNS}, exists (select 1 from walk_meetup_members x where x.meetup_id = m.id and x.user_id = ?) as joined,
              earth_distance(ll_to_earth(?, ?), ll_to_earth(m.lat, m.lng)) as distance_m
       from walk_meetups m
       where m.status = 'open' and m.starts_at >= ?
         and earth_box(ll_to_earth(?, ?), ?) @> ll_to_earth(m.lat, m.lng)
         and earth_distance(ll_to_earth(?, ?), ll_to_earth(m.lat, m.lng)) <= ?
         and ${NOT_BLOCKED('?::uuid', 'm.host_id')}
       order by distance_m, m.starts_at, m.id
       limit ?`,
      [viewerId, q.lat, q.lng, from, q.lat, q.lng, q.radiusM, q.lat, q.lng, q.radiusM, viewerId, viewerId, q.limit]);
    return { items: rows.map((r) => toDto(r, viewerId)) };
  }

  // GET /meetups/mine: the meetups I host and joined, latest start first, by cursor.
  async function mine(userId: string, q: z.output<typeof mineQuery>): Promise<{ items: MeetupDto[]; nextCursor: string | null }> {
    const after = q.cursor ? mineCursor.decode(q.cursor) : null;
    const role = q.role === 'hosting' ? ' and m.host_id = ?' : q.role === 'joined' ? ' and m.host_id <> ?' : '';
    const rows = await em.fork().execute<MeetupRow[]>(
      `select ${COLUMNS}, true as joined from walk_meetup_members mm join walk_meetups m on m.id = mm.meetup_id
       where mm.user_id = ?${role}${after ? ' and (m.starts_at, m.id) < (?, ?)' : ''}
       order by m.starts_at desc, m.id desc limit ?`,
      [userId, ...(role ? [userId] : []), ...(after ? [after.at, after.id] : []), q.limit + 1]);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => toDto(r, userId)),
      nextCursor: rows.length > q.limit && last ? mineCursor.encode({ at: new Date(last.starts_at).toISOString(), id: last.id }) : null,
    };
  }

  // POST /meetups/:id/session: the walk-together session for the members, created by the host (the
  // session's creator is always the host, whoever asks) with every other member invited. The host
  // may start it any time; a member from MEMBER_SESSION_LEAD_MS before the start. Its open session,
  // if there is one, is returned instead of a second.
  async function startSession(userId: string, meetupId: string): Promise<{ sessionId: string; created: boolean }> {
    const now = clock.now();
    return inTransaction(em.fork(), async (tx) => {
      // The row lock makes two members asking at once get one session.
      const r = await visible(tx, userId, meetupId, true);
      if (r.host_id !== userId && !r.joined) throw forbidden('not_member', 'Only the meetup\'s members may start its walk');
      if (r.status === 'cancelled') throw conflict('meetup_cancelled', 'This meetup was cancelled');
      if (r.session_id) {
        const [s] = await tx.execute<{ status: string }[]>(`select status from walk_sessions where id = ?`, [r.session_id]);
        if (s?.status === 'open') return { sessionId: r.session_id, created: false };
      }
      if (r.host_id !== userId && new Date(r.starts_at).getTime() - now.getTime() > MEMBER_SESSION_LEAD_MS) {
        throw conflict('too_early', `Members may start the walk from ${MEMBER_SESSION_LEAD_MS / 60_000} minutes before the meetup; the host any time`);
      }
      const invitees = (await membersOf(tx, meetupId)).map((m) => m.user_id).filter((u) => u !== r.host_id);
      if (!invitees.length) throw conflict('no_members', 'Nobody has joined this meetup yet');
      // The session is written in this transaction, which holds the meetup's row: one session, and
      // none if this rolls back.
      const session = await deps.together.create(r.host_id, { invitees }, 'meetup', { tx });
      await tx.execute(`update walk_meetups set session_id = ?, updated_at = ? where id = ?`, [session.id, now, meetupId]);
      return { sessionId: session.id, created: true };
    });
  }

  return { create, get, update, cancel, join, leave, nearby, mine, startSession };
}

export type MeetupService = ReturnType<typeof createMeetupService>;
