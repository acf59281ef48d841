// Walk invitations (Walk II, seed 003 산책 초대): a walker invites some of their followers to walk at
// a time and place; each invitee accepts or declines until the start, after which an unanswered
// invitation is expired. When the walk starts, one walk-together session (/walk) opens for the
// inviter and everyone who accepted: the every-minute walk-invitations-start cron opens it once the
// time has come, or the inviter starts it from START_LEAD_MS before.
//
// Concurrency, all without a lock held across a request:
// - an answer is a guarded update (… where answer = 'pending'): of two answers racing, the first
//   stands. It holds a share lock on the invitation row meanwhile, so an answer and a start (or a
//   cancel) of the same invitation are ordered: a start sees every accept that committed before it,
//   and an accept after it finds the invitation started.
// - opening the session claims the invitation with a guarded update (… where status = 'open'), then
//   creates the session and records it, all in that claim's transaction: a second starter (another
//   cron node, or the inviter's POST /start) finds it started once the first commits, and returns
//   that session. If creating the session fails, the claim rolls back.
// - the session is created on a second connection while the claim's holds the row, so nobody waits
//   for the row while holding a connection (a pool full of waiters would starve the starter they
//   wait for): the row is taken with SKIP LOCKED, and a taker that finds it busy lets its
//   connection go and tries again shortly (whileBusy).
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { cursorCodec } from '../cursor.ts';
import { AppError, conflict, forbidden, notFound, validationError } from '../errors.ts';
import { clientInstant, type Clock, type TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import { MAX_INVITEES } from './schemas.ts';
import { blockedEitherWay, NOT_BLOCKED } from './social.ts';
import type { TogetherService } from './together.ts';
import { pgArray } from '../pgArray.ts';

// ---- Limits ----

// How far ahead a walk may be planned.
export const MAX_AHEAD_DAYS = 30;
// The inviter may open the session this long before the start (earlier, it would go stale before anyone walks).
export const START_LEAD_MS = 30 * 60_000;
// An invitation whose time came this long ago without being started (the cron was down, say) is
// expired, not started: nobody is waiting for that walk any more.
export const START_WINDOW_MS = 2 * 3600_000;
// Invitations the cron opens per run, at most (each is one short transaction).
const START_BATCH = 500;
// A taker of a busy invitation row tries again this often (with jitter), this many times (~4 s).
const BUSY_RETRY_MS = 25;
const BUSY_ATTEMPTS = 100;

// ---- Input ----

const lat = z.number().min(-90).max(90).meta({ example: 37.5665 });
const lng = z.number().min(-180).max(180).meta({ example: 126.978 });

export const invitationInput = z.object({
  invitees: z.array(z.uuid()).min(1).max(MAX_INVITEES)
    .refine((ids) => new Set(ids.map((id) => id.toLowerCase())).size === ids.length, 'Each invitee once')
    .meta({ description: `Followers of mine to invite (user ids), 1 to ${MAX_INVITEES}`, example: ['c0a8012e-7f5b-4a57-9b1d-1d2f3e4a5b6c'] }),
  startsAt: clientInstant.meta({ description: `ISO 8601 with an offset; in the future, at most ${MAX_AHEAD_DAYS} days ahead`, example: '2026-12-01T19:00:00+09:00' }),
  placeName: z.string().trim().min(1).max(120).meta({ example: '서울숲 3번 출입구' }),
  lat, lng,
  message: z.string().trim().max(500).optional().meta({ description: 'A word to the invitees', example: '초코랑 같이 걸어요!' }),
});
export type InvitationInput = z.output<typeof invitationInput>;

export const invitationListQuery = z.object({
  box: z.enum(['received', 'sent']).default('received').meta({ description: 'received: invitations to me; sent: mine' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(300).optional(),
});
export type InvitationListQuery = z.output<typeof invitationListQuery>;

// ---- Output ----

const ANSWERS = ['pending', 'accepted', 'declined', 'expired'] as const;
const STATUSES = ['open', 'started', 'cancelled', 'expired'] as const;
type Answer = (typeof ANSWERS)[number];
type Status = (typeof STATUSES)[number];

const instant = z.string().meta({ description: 'ISO 8601 with the configured zone\'s offset' });
export const invitationDto = z
  .object({
    id: z.uuid(), inviterId: z.uuid(), inviterNickname: z.string(),
    startsAt: instant, placeName: z.string(), lat: z.number(), lng: z.number(), message: z.string().nullable(),
    status: z.enum(STATUSES).meta({ description: 'open: answers until startsAt; started: its walk-together session is sessionId; expired: its time came with nobody accepted (or it was never started)' }),
    sessionId: z.uuid().nullable().meta({ description: 'Its walk-together session on /walk, once started' }),
    myAnswer: z.enum(ANSWERS).nullable().meta({ description: 'Mine as an invitee (null: I am the inviter); pending turns expired at startsAt' }),
    invitees: z.array(z.object({ userId: z.uuid(), nickname: z.string(), answer: z.enum(ANSWERS), answeredAt: instant.nullable() })),
    createdAt: instant, updatedAt: instant,
  })
  .meta({ id: 'WalkInvitation' });
export type InvitationDto = z.output<typeof invitationDto>;

export const invitationSessionDto = z
  .object({ sessionId: z.uuid(), created: z.boolean().meta({ description: 'false: the session opened before (by the cron or an earlier call)' }) })
  .meta({ id: 'WalkInvitationSession' });

// ---- The service ----

type InvitationNotice = { type: 'walk.invitation'; title: string; body: string; data: Record<string, unknown>; dedupeKey?: string };

export type InvitationDeps = {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger;
  notify: (userId: string, input: InvitationNotice) => Promise<unknown>;
  together: Pick<TogetherService, 'create'>;
};

type InvitationRow = {
  id: string; inviter_id: string; inviter_nickname: string; starts_at: Date; place_name: string; lat: number; lng: number; message: string | null;
  status: Status; session_id: string | null; created_at: Date; updated_at: Date;
  // The viewer's answer (null: not invited).
  my_answer: Answer | null;
};
type InviteeRow = { invitation_id: string; user_id: string; nickname: string; answer: Answer; answered_at: Date | null };

// The viewer is the first parameter.
const SELECT = `select i.id, i.inviter_id, coalesce(p.nickname, u.username) as inviter_nickname, i.starts_at, i.place_name, i.lat, i.lng, i.message,
    i.status, i.session_id, i.created_at, i.updated_at,
    (select x.answer from walk_invitation_invitees x where x.invitation_id = i.id and x.user_id = ?) as my_answer
  from walk_invitations i join users u on u.id = i.inviter_id left join walk_profiles p on p.user_id = i.inviter_id`;
const listCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

// The invitation's row is held by another transaction (a start, a cancel, an answer): try again.
class InvitationBusy extends Error {}

async function whileBusy<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof InvitationBusy)) throw err;
      if (attempt >= BUSY_ATTEMPTS) throw conflict('invitation_busy', 'This invitation is being changed right now: try again');
    }
    await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS * (0.5 + Math.random())));
  }
}

export function createInvitationService(deps: InvitationDeps) {
  const { em, clock, time, logger } = deps;

  // An open invitation whose time has come is expired for its pending invitees at once, and for
  // itself when nobody accepted or its start window passed; the cron writes the same a minute later.
  function statusOf(r: Pick<InvitationRow, 'status' | 'starts_at'>, acceptedCount: number, now: Date): Status {
    if (r.status !== 'open') return r.status;
    const startsAt = new Date(r.starts_at).getTime();
    if (startsAt <= now.getTime() && (acceptedCount === 0 || startsAt <= now.getTime() - START_WINDOW_MS)) return 'expired';
    return 'open';
  }
  const answerOf = (answer: Answer, startsAt: Date, now: Date): Answer => (answer === 'pending' && new Date(startsAt) <= now ? 'expired' : answer);

  function toDto(r: InvitationRow, invitees: InviteeRow[], viewerId: string): InvitationDto {
    const now = clock.now();
    const accepted = invitees.filter((x) => x.answer === 'accepted').length;
    return {
      id: r.id, inviterId: r.inviter_id, inviterNickname: r.inviter_nickname,
      startsAt: time.format(new Date(r.starts_at)), placeName: r.place_name, lat: r.lat, lng: r.lng, message: r.message,
      status: statusOf(r, accepted, now), sessionId: r.session_id,
      myAnswer: r.inviter_id === viewerId || !r.my_answer ? null : answerOf(r.my_answer, r.starts_at, now),
      invitees: invitees.map((x) => ({ userId: x.user_id, nickname: x.nickname, answer: answerOf(x.answer, r.starts_at, now), answeredAt: time.formatNullable(x.answered_at && new Date(x.answered_at)) })),
      createdAt: time.format(new Date(r.created_at)), updatedAt: time.format(new Date(r.updated_at)),
    };
  }

  // The invitees of these invitations, as the viewer may see them: an invitee sees the others but
  // anyone either of them blocked (the inviter sees all their invitees).
  async function inviteesOf(db: Em, viewerId: string, rows: InvitationRow[]): Promise<Map<string, InviteeRow[]>> {
    const byId = new Map<string, InviteeRow[]>(rows.map((r) => [r.id, []]));
    if (!rows.length) return byId;
    const found = await db.execute<(InviteeRow & { inviter_id: string })[]>(
      `select x.invitation_id, x.user_id, coalesce(p.nickname, u.username) as nickname, x.answer, x.answered_at, i.inviter_id
         from walk_invitation_invitees x join walk_invitations i on i.id = x.invitation_id
         join users u on u.id = x.user_id left join walk_profiles p on p.user_id = x.user_id
        where x.invitation_id = any(?::uuid[]) and (i.inviter_id = ?::uuid or ${NOT_BLOCKED('?::uuid', 'x.user_id')})
        order by x.invitation_id, x.created_at, x.user_id`,
      [pgArray(rows.map((r) => r.id)), viewerId, viewerId, viewerId]);
    for (const x of found) byId.get(x.invitation_id)!.push(x);
    return byId;
  }

  // The invitation as the viewer may know it: its inviter, or an invitee neither of whom blocked the
  // other. A missing one and one they may not see look alike.
  // `lock` takes the row (in `db`, a transaction) or throws InvitationBusy if another holds it.
  async function visible(db: Em, viewerId: string, invitationId: string, lock: '' | 'share' | 'update' = ''): Promise<InvitationRow> {
    const [r] = await db.execute<InvitationRow[]>(`${SELECT} where i.id = ?${lock ? ` for ${lock} of i skip locked` : ''}`, [viewerId, invitationId]);
    if (!r && lock && (await db.execute(`select 1 from walk_invitations where id = ?`, [invitationId])).length) throw new InvitationBusy();
    if (!r || (r.inviter_id !== viewerId && (!r.my_answer || (await blockedEitherWay(db, viewerId, r.inviter_id))))) throw notFound('Invitation');
    return r;
  }

  async function detail(db: Em, viewerId: string, invitationId: string): Promise<InvitationDto> {
    const r = await visible(db, viewerId, invitationId);
    return toDto(r, (await inviteesOf(db, viewerId, [r])).get(r.id)!, viewerId);
  }

  async function nicknameOf(userId: string): Promise<string> {
    const [me] = await em.fork().execute<{ nickname: string }[]>(
      `select coalesce(p.nickname, u.username) as nickname from users u left join walk_profiles p on p.user_id = u.id where u.id = ?`, [userId]);
    return me?.nickname ?? '누군가';
  }

  // Sent once the transaction that earned it has committed; a notification that fails is logged,
  // never the request's failure.
  function tell(tx: Em, userIds: string[], notice: (nickname: string) => InvitationNotice, about: string): void {
    onCommitted(tx, () => {
      void nicknameOf(about).then(
        (nickname) => {
          const input = notice(nickname);
          for (const userId of userIds) {
            void deps.notify(userId, input).catch((err: unknown) => logger.warn({ err, userId, type: input.type }, 'invitation notification not sent'));
          }
        },
        (err: unknown) => logger.warn({ err }, 'invitation notification not sent'));
    });
  }

  // POST /walk/invitations: to followers of the inviter only, never anyone blocked either way (who
  // is refused exactly like a non-follower: a block is not announced).
  async function create(inviterId: string, input: InvitationInput): Promise<InvitationDto> {
    const now = clock.now();
    const startsAt = input.startsAt;
    if (startsAt <= now) throw validationError([{ field: 'startsAt', in: 'body', message: 'must be in the future' }]);
    if (startsAt.getTime() > now.getTime() + MAX_AHEAD_DAYS * 86_400_000) throw validationError([{ field: 'startsAt', in: 'body', message: `at most ${MAX_AHEAD_DAYS} days ahead` }]);
    const invitees = input.invitees.map((id) => id.toLowerCase());
    if (invitees.includes(inviterId)) throw validationError([{ field: 'invitees', in: 'body', message: 'invite others, not yourself' }]);
    const id = crypto.randomUUID();
    const dto = await inTransaction(em.fork(), async (tx) => {
      const followers = await tx.execute<{ id: string }[]>(
        `select f.follower_id as id from walk_follows f join users u on u.id = f.follower_id
          where f.followee_id = ?::uuid and f.follower_id = any(?::uuid[]) and u.disabled_at is null and ${NOT_BLOCKED('f.followee_id', 'f.follower_id')}`,
        [inviterId, pgArray(invitees)]);
      const missing = invitees.filter((u) => !followers.some((f) => f.id === u));
      if (missing.length) throw validationError([{ field: 'invitees', in: 'body', message: `not one of your followers: ${missing.join(', ')}` }]);
      await tx.execute(
        `insert into walk_invitations (id, inviter_id, starts_at, place_name, lat, lng, message, status, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
        [id, inviterId, startsAt, input.placeName, input.lat, input.lng, input.message || null, now, now]);
      await tx.execute(
        `insert into walk_invitation_invitees (invitation_id, user_id, answer, created_at) select ?, u, 'pending', ? from unnest(?::uuid[]) as u`,
        [id, now, pgArray(invitees)]);
      tell(tx, invitees, (nickname) => ({
        type: 'walk.invitation', title: '산책 초대', body: `${nickname}님이 함께 산책하자고 해요 · ${input.placeName} · ${time.format(startsAt)}`,
        data: { action: 'invited', invitationId: id, inviterId, startsAt: time.format(startsAt), placeName: input.placeName },
        dedupeKey: `walk.invitation:${id}:invited`,
      }), inviterId);
      return detail(tx, inviterId, id);
    });
    return dto;
  }

  const get = (viewerId: string, invitationId: string) => detail(em.fork(), viewerId, invitationId);

  // GET /walk/invitations?box=: newest first, by cursor. The received box leaves out invitations
  // from anyone either side blocked since.
  async function list(viewerId: string, q: InvitationListQuery): Promise<{ items: InvitationDto[]; nextCursor: string | null }> {
    const db = em.fork();
    const after = q.cursor ? listCursor.decode(q.cursor) : null;
    const rows = q.box === 'sent'
      ? await db.execute<InvitationRow[]>(
        `${SELECT} where i.inviter_id = ?${after ? ' and (i.created_at, i.id) < (?, ?)' : ''} order by i.created_at desc, i.id desc limit ?`,
        [viewerId, viewerId, ...(after ? [after.at, after.id] : []), q.limit + 1])
      : await db.execute<InvitationRow[]>(
        `${SELECT} join walk_invitation_invitees mine on mine.invitation_id = i.id and mine.user_id = ?
          where ${NOT_BLOCKED('mine.user_id', 'i.inviter_id')}${after ? ' and (mine.created_at, mine.invitation_id) < (?, ?)' : ''}
          order by mine.created_at desc, mine.invitation_id desc limit ?`,
        [viewerId, viewerId, ...(after ? [after.at, after.id] : []), q.limit + 1]);
    const page = rows.slice(0, q.limit);
    const invitees = await inviteesOf(db, viewerId, page);
    const last = page.at(-1);
    return {
      items: page.map((r) => toDto(r, invitees.get(r.id)!, viewerId)),
      nextCursor: rows.length > q.limit && last ? listCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.id }) : null,
    };
  }

  // POST /walk/invitations/:id/accept | decline: an invitee's answer, while the invitation is open
  // and before its start. The first answer stands: the same answer again changes nothing, the other
  // one is a 409. The inviter is told of the answer that stood, once.
  async function answer(userId: string, invitationId: string, choice: 'accepted' | 'declined'): Promise<{ invitation: InvitationDto; changed: boolean }> {
    const now = clock.now();
    return whileBusy(() => inTransaction(em.fork(), async (tx) => {
      // Shared: answers go side by side; a start or cancel of this invitation waits for them, and they for it.
      const r = await visible(tx, userId, invitationId, 'share');
      if (r.inviter_id === userId) throw forbidden('not_invitee', 'Only the invited walkers answer an invitation');
      if (r.status === 'cancelled') throw conflict('invitation_cancelled', 'This invitation was cancelled');
      if (r.status === 'started') throw conflict('invitation_started', 'This walk has started');
      if (r.status === 'expired' || new Date(r.starts_at) <= now) throw conflict('invitation_expired', 'The time of this walk has come: it can no longer be answered');
      const set = await tx.execute(
        `update walk_invitation_invitees set answer = ?, answered_at = ? where invitation_id = ? and user_id = ? and answer = 'pending' returning answer`,
        [choice, now, invitationId, userId]);
      if (!set.length) {
        // Answered before (or by a request racing this one that committed first).
        const [current] = await tx.execute<{ answer: Answer }[]>(`select answer from walk_invitation_invitees where invitation_id = ? and user_id = ?`, [invitationId, userId]);
        if (current?.answer !== choice) {
          throw new AppError(409, 'already_answered', `You already ${current?.answer === 'accepted' ? 'accepted' : 'declined'} this invitation`, { extra: { answer: current?.answer } });
        }
        return { invitation: await detail(tx, userId, invitationId), changed: false };
      }
      // The invitation row is not written here: answers hold it shared, and two answers each waiting to
      // write it would deadlock. updatedAt moves with the invitation's own changes only.
      const action = choice === 'accepted' ? 'accepted' : 'declined';
      tell(tx, [r.inviter_id], (nickname) => ({
        type: 'walk.invitation',
        title: action === 'accepted' ? '산책 초대 수락' : '산책 초대 거절',
        body: `${nickname}님이 ${r.place_name} 산책 초대를 ${action === 'accepted' ? '수락했어요' : '거절했어요'}`,
        data: { action, invitationId, inviterId: r.inviter_id, inviteeId: userId, startsAt: time.format(new Date(r.starts_at)), placeName: r.place_name },
      }), userId);
      return { invitation: await detail(tx, userId, invitationId), changed: true };
    }));
  }

  // POST /walk/invitations/:id/cancel (the inviter, while it is open). Cancelling again changes
  // nothing. Invitees who had not declined are told.
  async function cancel(inviterId: string, invitationId: string): Promise<InvitationDto> {
    const now = clock.now();
    return whileBusy(() => inTransaction(em.fork(), async (tx) => {
      const r = await visible(tx, inviterId, invitationId, 'update');
      if (r.inviter_id !== inviterId) throw forbidden('not_inviter', 'Only the inviter may do this');
      const done = await tx.execute(`update walk_invitations set status = 'cancelled', updated_at = ? where id = ? and status = 'open' returning id`, [now, invitationId]);
      if (!done.length) {
        const [current] = await tx.execute<{ status: Status }[]>(`select status from walk_invitations where id = ?`, [invitationId]);
        if (current?.status === 'started') throw conflict('invitation_started', 'This walk has started: end its session instead');
        if (current?.status === 'expired') throw conflict('invitation_expired', 'This invitation has expired');
        return detail(tx, inviterId, invitationId);
      }
      const told = await tx.execute<{ user_id: string }[]>(
        `select user_id from walk_invitation_invitees where invitation_id = ? and answer in ('pending', 'accepted')`, [invitationId]);
      tell(tx, told.map((t) => t.user_id), (nickname) => ({
        type: 'walk.invitation', title: '산책 초대 취소', body: `${nickname}님이 ${r.place_name} 산책 초대를 취소했어요`,
        data: { action: 'cancelled', invitationId, inviterId, startsAt: time.format(new Date(r.starts_at)), placeName: r.place_name },
        dedupeKey: `walk.invitation:${invitationId}:cancelled`,
      }), inviterId);
      return detail(tx, inviterId, invitationId);
    }));
  }

  // Opens the invitation's walk-together session if it may open now, once, whoever asks (the one
  // path of the cron and of POST /start): the guarded update claims the invitation; a starter that
  // loses finds it started (it waited for the row until the winner committed) and gets that session.
  // Accepted invitees either side blocked since are left out; with nobody left it does not open.
  async function openSession(invitationId: string, now: Date): Promise<{ sessionId: string; created: boolean } | { refused: AppError }> {
    return whileBusy(() => inTransaction(em.fork(), async (tx) => {
      const held = await tx.execute(`select id from walk_invitations where id = ? for update skip locked`, [invitationId]);
      if (!held.length) {
        if ((await tx.execute(`select 1 from walk_invitations where id = ?`, [invitationId])).length) throw new InvitationBusy();
        return { refused: notFound('Invitation') };
      }
      const [claimed] = await tx.execute<{ inviter_id: string }[]>(
        `update walk_invitations set status = 'started', started_at = ?, updated_at = ?
          where id = ? and status = 'open' and starts_at <= ? and starts_at > ? returning inviter_id`,
        [now, now, invitationId, new Date(now.getTime() + START_LEAD_MS), new Date(now.getTime() - START_WINDOW_MS)]);
      if (!claimed) {
        const [r] = await tx.execute<{ status: Status; session_id: string | null; starts_at: Date }[]>(`select status, session_id, starts_at from walk_invitations where id = ?`, [invitationId]);
        if (r?.status === 'started' && r.session_id) return { sessionId: r.session_id, created: false };
        if (r?.status === 'started') return { refused: conflict('session_gone', 'This walk\'s session is gone') };
        if (r?.status === 'cancelled') return { refused: conflict('invitation_cancelled', 'This invitation was cancelled') };
        if (r?.status === 'expired' || (r && new Date(r.starts_at).getTime() <= now.getTime() - START_WINDOW_MS)) return { refused: conflict('invitation_expired', 'This invitation has expired') };
        return { refused: conflict('too_early', `The walk can be started from ${START_LEAD_MS / 60_000} minutes before its time`) };
      }
      const accepted = await tx.execute<{ user_id: string }[]>(
        `select x.user_id from walk_invitation_invitees x
          where x.invitation_id = ? and x.answer = 'accepted' and ${NOT_BLOCKED('x.user_id', '?::uuid')}
          order by x.answered_at, x.user_id`,
        [invitationId, claimed.inviter_id, claimed.inviter_id]);
      // Throwing rolls the claim back; nothing was created.
      if (!accepted.length) throw conflict('no_accepted', 'Nobody has accepted this invitation yet');
      // The session is written in this transaction with the claim (its invitees hear session.invited
      // once it commits): a crash between the two leaves neither.
      const session = await deps.together.create(claimed.inviter_id, { invitees: accepted.map((a) => a.user_id) }, 'invitation', { tx });
      await tx.execute(`update walk_invitations set session_id = ? where id = ?`, [session.id, invitationId]);
      // Who never answered can no longer: the walk has started.
      await tx.execute(`update walk_invitation_invitees set answer = 'expired', answered_at = ? where invitation_id = ? and answer = 'pending'`, [now, invitationId]);
      return { sessionId: session.id, created: true };
    }));
  }

  // POST /walk/invitations/:id/start: the inviter opens the session from START_LEAD_MS before the
  // start (the cron opens it at the start otherwise); a second call returns the same session.
  async function start(inviterId: string, invitationId: string): Promise<{ sessionId: string; created: boolean }> {
    const r = await visible(em.fork(), inviterId, invitationId);
    if (r.inviter_id !== inviterId) throw forbidden('not_inviter', 'Only the inviter may start the walk');
    const opened = await openSession(invitationId, clock.now());
    if ('refused' in opened) throw opened.refused;
    return opened;
  }

  // The cron (walk-invitations-start, every minute, on any number of nodes): opens the session of
  // every invitation whose time has come (within START_WINDOW_MS) and someone accepted, then expires
  // the open ones whose time came with nobody (not blocked) accepted, or too long ago, with their
  // unanswered invitees.
  async function startDue(): Promise<{ started: number; expired: number; failed: number }> {
    const now = clock.now();
    const windowStart = new Date(now.getTime() - START_WINDOW_MS);
    const due = await em.fork().execute<{ id: string }[]>(
      `select i.id from walk_invitations i
        where i.status = 'open' and i.starts_at <= ? and i.starts_at > ?
          and exists (select 1 from walk_invitation_invitees x where x.invitation_id = i.id and x.answer = 'accepted')
        order by i.starts_at, i.id limit ?`,
      [now, windowStart, START_BATCH]);
    let started = 0;
    let failed = 0;
    for (const { id } of due) {
      try {
        const opened = await openSession(id, now);
        if ('sessionId' in opened && opened.created) started++;
      } catch (err) {
        // no_accepted: everyone who accepted was blocked since; the expiry below takes it.
        if (!(err instanceof AppError && err.code === 'no_accepted')) {
          failed++;
          logger.warn({ err, invitationId: id }, 'walk invitation: session not opened');
        }
      }
    }
    const expired = await inTransaction(em.fork(), async (tx) => {
      const rows = await tx.execute<{ id: string }[]>(
        `update walk_invitations i set status = 'expired', updated_at = ?
          where i.status = 'open' and i.starts_at <= ?
            and (i.starts_at <= ? or not exists (
              select 1 from walk_invitation_invitees x where x.invitation_id = i.id and x.answer = 'accepted' and ${NOT_BLOCKED('x.user_id', 'i.inviter_id')}))
          returning i.id`,
        [now, now, windowStart]);
      if (rows.length) {
        await tx.execute(`update walk_invitation_invitees set answer = 'expired', answered_at = ? where invitation_id = any(?::uuid[]) and answer = 'pending'`,
          [now, pgArray(rows.map((r) => r.id))]);
      }
      return rows.length;
    });
    return { started, expired, failed };
  }

  return { create, get, list, accept: (userId: string, id: string) => answer(userId, id, 'accepted'), decline: (userId: string, id: string) => answer(userId, id, 'declined'), cancel, start, startDue };
}

export type InvitationService = ReturnType<typeof createInvitationService>;
