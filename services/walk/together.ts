// Walking together (seed 003 "함께 산책 위치 공유"): a session of walkers who agreed to walk together
// (created directly with invitees; Walk II's accepted invitations and meetups create them too). Only
// its participants join; each sends its position at most once a second, and the others receive it,
// blurred inside the sender's home zones. Presence: joined, stale after a silence, active again, left.
// A session closes when its creator ends it, the creator's walk is posted, everyone has left, or every
// walker has been silent for long.
//
// Postgres holds sessions and who is in them; the per-second state (last positions, last seen, the
// 1 Hz limit) is in the TogetherStore: Redis with several nodes, so any node answers a reconnect with
// the others' last positions and any node's sweep notices a walker gone quiet (claimed once, so one
// node announces it). Membership and home zones are cached per node for the position path, dropped on
// every node through the invalidation bus when someone joins, leaves or a session closes.
//
// The position path waits on nothing in the steady state: a walker this node has been relaying is
// checked against this node's copy of the 1 Hz limit and relayed at once, and Redis is written right
// after. A first position on a node, or a walker seen sending through two nodes, waits for the shared
// limit instead (bench/walk-together.ts measured the round trip in the path as the difference between
// meeting and missing p99 < 50 ms on a busy 2-core machine).
import { haversineM } from '../../workers/geo.ts';
import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError, conflict, forbidden, notFound, validationError } from '../errors.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { NamespacePort } from '../realtime.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import { homeZone, type HomeZone } from './profiles.ts';
import { NOT_BLOCKED } from './social.ts';
import {
  CLOSE_REASONS, SESSION_SOURCES,
  type CreateSessionInput, type PositionInput, type RelayedPosition, type SessionDto, type walkServerEvents,
} from './schemas.ts';
import { createMemoryTogetherStore, createRedisTogetherStore } from './togetherStore.ts';
import { pgArray } from '../pgArray.ts';

type CloseReason = (typeof CLOSE_REASONS)[number];
type Source = (typeof SESSION_SOURCES)[number];

export type TogetherLimits = {
  // No position (or join) for this long: stale.
  staleMs: number;
  // How often each node sweeps for stale walkers and abandoned sessions.
  sweepMs: number;
  // Every joined walker stale (or none joined) for this long: the session closes as abandoned.
  abandonMs: number;
};

export type TogetherDeps = {
  em: Em;
  clock: Clock;
  time: TimeFormatter;
  logger: Logger;
  bus: InvalidationBus;
  realtime: NamespacePort<typeof walkServerEvents>;
  // Shared by every node when set; else this node's memory.
  redis?: Redis;
  redisKeyPrefix: string;
  limits: TogetherLimits;
};

// One position a second per walker, with this much jitter forgiven (a phone's 1 Hz timer is not exact).
export const POSITION_INTERVAL_MS = 1000;
export const POSITION_TOLERANCE_MS = 500;
// A walker whose last position this node accepted less than this long ago, and who is not sending
// through another node too, is relayed on this node's word; the shared limit is told right after.
const FAST_PATH_MS = 5000;
// How long a walker seen sending through two nodes is checked with the shared limit first.
const SHARED_CHECK_MS = 60_000;
// A fix from further ahead than this (clock skew) or older than this is refused.
const MAX_FUTURE_MS = 60_000;
const MAX_AGE_MS = 10 * 60_000;
// Last positions are kept this long after the last one (a session's life is far shorter).
export const POSITIONS_TTL_MS = 6 * 3600_000;
// Inside a home zone the walker is shown at the zone's centre snapped to this grid: the same point for
// every fix in the zone, which is not the zone's own centre either.
const BLUR_GRID_M = 1000;
// How long a node trusts its cached copy of a session (membership, home zones) without being told
// (it is told: joins, leaves and closes invalidate it on every node). Past this, positions are still
// served from the copy while one reload runs; the jitter keeps sessions from reloading all at once.
const CACHE_MS = 10_000;
const CACHE_JITTER = 0.3;
const CACHE_MAX = 20_000;
const SWEEP_BATCH = 1000;
const BUS_TOPIC = 'walk.together';

export const togetherRoom = (sessionId: string) => `together:${sessionId}`;

type Member = { invitedAt: Date; joinedAt: Date | null; leftAt: Date | null };
type SessionState = {
  id: string; createdBy: string; source: Source; status: 'open' | 'closed';
  createdAt: Date; closedAt: Date | null; closeReason: CloseReason | null;
  members: Map<string, Member>;
  zones: Map<string, HomeZone[]>;
};

type SessionRow = { id: string; created_by: string; source: Source; status: 'open' | 'closed'; created_at: Date; closed_at: Date | null; close_reason: CloseReason | null };
type MemberRow = { user_id: string; invited_at: Date; joined_at: Date | null; left_at: Date | null; home_zones: unknown };


export function createTogetherService(deps: TogetherDeps) {
  const { em, clock, time, logger, realtime, limits } = deps;
  const storeLimits = { intervalMs: POSITION_INTERVAL_MS, toleranceMs: POSITION_TOLERANCE_MS, positionsTtlMs: POSITIONS_TTL_MS };
  const memory = createMemoryTogetherStore(storeLimits);
  const store = deps.redis ? createRedisTogetherStore({ redis: deps.redis, keyPrefix: deps.redisKeyPrefix, limits: storeLimits, fallback: memory }) : memory;
  const cache = new Map<string, { freshUntil: number; state: Promise<SessionState | null>; reloading?: boolean }>();
  deps.bus.subscribe(BUS_TOPIC, (sessionId) => void cache.delete(sessionId));
  // Invalidations published while the bus was down were lost.
  deps.bus.onRecovered(() => cache.clear());
  // This node's view of each walker's 1 Hz limit (theoretical arrival time), ahead of the shared one.
  const cells = new Map<string, { tat: number; acceptedAt: number; checkSharedUntil: number }>();
  const nodeId = crypto.randomUUID();
  const fastPath = Boolean(deps.redis);
  const invalidate = (sessionId: string) => deps.bus.publish(BUS_TOPIC, sessionId);

  async function load(db: Em, sessionId: string, lock = false): Promise<SessionState | null> {
    const [s] = await db.execute<SessionRow[]>(
      `select id, created_by, source, status, created_at, closed_at, close_reason from walk_sessions where id = ?${lock ? ' for update' : ''}`, [sessionId]);
    if (!s) return null;
    const rows = await db.execute<MemberRow[]>(
      `select p.user_id, p.invited_at, p.joined_at, p.left_at, coalesce(w.home_zones, '[]'::jsonb) as home_zones
       from walk_session_participants p left join walk_profiles w on w.user_id = p.user_id
       where p.session_id = ? order by p.invited_at, p.user_id`, [sessionId]);
    return {
      id: s.id, createdBy: s.created_by, source: s.source, status: s.status,
      createdAt: new Date(s.created_at), closedAt: s.closed_at && new Date(s.closed_at), closeReason: s.close_reason,
      members: new Map(rows.map((r) => [r.user_id, { invitedAt: new Date(r.invited_at), joinedAt: r.joined_at && new Date(r.joined_at), leftAt: r.left_at && new Date(r.left_at) }])),
      zones: new Map(rows.map((r) => [r.user_id, parseZones(r.home_zones)])),
    };
  }

  function parseZones(raw: unknown): HomeZone[] {
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((z) => {
      const parsed = homeZone.safeParse(z);
      if (!parsed.success) logger.warn({ zone: z }, 'walk together: a stored home zone is not valid and is ignored');
      return parsed.success ? [parsed.data] : [];
    });
  }

  // The position path's view of a session: cached, one load at a time per session; an entry past
  // its time is served while it reloads (stale-while-revalidate), so positions never queue behind it.
  const ttl = () => CACHE_MS * (1 - CACHE_JITTER / 2 + Math.random() * CACHE_JITTER);
  function cached(sessionId: string): Promise<SessionState | null> {
    const now = Date.now();
    const hit = cache.get(sessionId);
    if (hit && now < hit.freshUntil) return hit.state;
    if (hit) {
      if (!hit.reloading) {
        hit.reloading = true;
        load(em.fork(), sessionId).then(
          (state) => cache.get(sessionId) === hit && cache.set(sessionId, { freshUntil: Date.now() + ttl(), state: Promise.resolve(state) }),
          (err: unknown) => {
            logger.warn({ err, sessionId }, 'walk together: session not reloaded');
            if (cache.get(sessionId) === hit) cache.delete(sessionId);
          });
      }
      return hit.state;
    }
    if (cache.size >= CACHE_MAX) for (const [k, v] of cache) if (now >= v.freshUntil) cache.delete(k);
    const state = load(em.fork(), sessionId);
    const entry = { freshUntil: now + ttl(), state };
    cache.set(sessionId, entry);
    state.catch(() => cache.get(sessionId) === entry && cache.delete(sessionId));
    return state;
  }

  const member = (s: SessionState | null, userId: string): Member => {
    const m = s?.members.get(userId);
    // A stranger learns nothing, not even that the session exists.
    if (!s || !m) throw notFound('Walk session');
    return m;
  };
  const open = (s: SessionState) => {
    if (s.status !== 'open') throw conflict('session_closed', `This walk session has closed (${s.closeReason})`);
  };

  async function dto(s: SessionState): Promise<SessionDto> {
    const ids = [...s.members.keys()];
    const seen = s.status === 'open' ? await store.lastSeen(s.id, ids) : new Map<string, number | null>();
    return {
      id: s.id, createdBy: s.createdBy, source: s.source, status: s.status,
      createdAt: time.format(s.createdAt), closedAt: time.formatNullable(s.closedAt), closeReason: s.closeReason,
      participants: ids.map((userId) => {
        const m = s.members.get(userId)!;
        const status = m.leftAt ? 'left' : !m.joinedAt ? 'invited' : seen.get(userId) != null ? 'active' : 'stale';
        return { userId, status, joinedAt: time.formatNullable(m.joinedAt), leftAt: time.formatNullable(m.leftAt) };
      }),
    };
  }

  const presence = (sessionId: string, userId: string, status: 'joined' | 'active' | 'stale' | 'left', at: Date) =>
    realtime.emitToRoom(togetherRoom(sessionId), 'session.presence', { sessionId, userId, status, at: time.format(at) });

  // Closes the session if it is open (in the caller's transaction, the session row locked); once
  // committed, forgets its per-second state and tells everyone still in it, on every node.
  async function close(tx: Em, s: SessionState, reason: CloseReason, at: Date): Promise<boolean> {
    const rows = await tx.execute(`update walk_sessions set status = 'closed', closed_at = ?, close_reason = ? where id = ? and status = 'open' returning id`, [at, reason, s.id]);
    if (rows.length === 0) return false;
    const tell = [...s.members].filter(([, m]) => !m.leftAt).map(([u]) => u);
    onCommitted(tx, () => void closed(s.id, [...s.members.keys()], tell, reason, at));
    return true;
  }

  async function closed(sessionId: string, everyone: string[], tell: string[], reason: CloseReason, at: Date) {
    invalidate(sessionId);
    for (const userId of tell) realtime.emitToUser(userId, 'session.closed', { sessionId, reason, at: time.format(at) });
    await store.dropSession(sessionId, everyone).catch((err: unknown) => logger.warn({ err, sessionId }, 'walk together: state of a closed session not dropped'));
  }

  function blur(zones: HomeZone[] | undefined, p: PositionInput): Pick<RelayedPosition, 'lat' | 'lng' | 'accuracy' | 'blurred'> {
    const zone = zones?.find((z) => haversineM(z, p) <= z.radiusM);
    if (!zone) return { lat: p.lat, lng: p.lng, accuracy: p.accuracy, blurred: false };
    return { ...snapToGrid(zone, BLUR_GRID_M), accuracy: Math.ceil(zone.radiusM + BLUR_GRID_M * Math.SQRT1_2), blurred: true };
  }

  let sweeper: NodeJS.Timeout | undefined;
  let sweeping = false;
  let stopped = false;
  const ensureSweeping = () => {
    if (sweeper || stopped) return;
    sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      void sweep().catch((err: unknown) => logger.warn({ err }, 'walk together: sweep failed')).finally(() => (sweeping = false));
    }, limits.sweepMs);
    sweeper.unref();
  };

  // Every node that serves walkers sweeps; the store hands each silent walker to one node, and a
  // guarded update closes each abandoned session once.
  async function sweep(): Promise<{ stale: number; abandoned: number }> {
    const now = clock.now();
    const silent = await store.claimSilent(now.getTime() - limits.staleMs, SWEEP_BATCH);
    let stale = 0;
    if (silent.length) {
      const rows = await em.fork().execute<{ session_id: string; user_id: string }[]>(
        `update walk_session_participants p set stale_at = ?
         from unnest(?::uuid[], ?::uuid[]) as c(session_id, user_id), walk_sessions s
         where p.session_id = c.session_id and p.user_id = c.user_id and s.id = p.session_id
           and s.status = 'open' and p.joined_at is not null and p.left_at is null
         returning p.session_id, p.user_id`,
        [now, pgArray(silent.map((x) => x.sessionId)), pgArray(silent.map((x) => x.userId))]);
      for (const r of rows) presence(r.session_id, r.user_id, 'stale', now);
      stale = rows.length;
    }
    const cutoff = new Date(now.getTime() - limits.abandonMs);
    const abandoned = await inTransaction(em.fork(), async (tx) => {
      const ids = await tx.execute<{ id: string }[]>(
        `select s.id from walk_sessions s
         where s.status = 'open' and s.created_at < ?
           and not exists (select 1 from walk_session_participants p where p.session_id = s.id
             and p.joined_at is not null and p.left_at is null and (p.stale_at is null or p.stale_at > ?))
         order by s.created_at limit 100 for update of s skip locked`, [cutoff, cutoff]);
      let n = 0;
      for (const { id } of ids) {
        const s = await load(tx, id);
        if (s && (await close(tx, s, 'abandoned', now))) n++;
      }
      return n;
    });
    const at = Date.now();
    for (const [k, v] of cache) if (at >= v.freshUntil + CACHE_MS) cache.delete(k);
    for (const [k, c] of cells) if (at - c.acceptedAt > SHARED_CHECK_MS && c.checkSharedUntil < at) cells.delete(k);
    return { stale, abandoned };
  }

  return {
    // Starts a session with the creator in it (joined) and the invitees invited; each invitee
    // connected to /walk hears session.invited. `source` is for Walk II's invitations and meetups,
    // which pass their own transaction (`tx`): the session is written in it — no second connection
    // while they hold their row, and no session left behind when they roll back — and announced
    // once it commits.
    create: async (userId: string, input: CreateSessionInput, source: Source = 'direct', opts: { tx?: Em } = {}): Promise<SessionDto> => {
      ensureSweeping();
      const invitees = input.invitees.map((id) => id.toLowerCase());
      if (invitees.includes(userId)) throw validationError([{ field: 'invitees', in: 'payload', message: 'Invite others, not yourself' }]);
      const now = clock.now();
      const id = crypto.randomUUID();
      const write = async (tx: Em) => {
        // Someone who blocked the creator, or whom the creator blocked, cannot be invited: they look
        // like no one (a block is not announced).
        const found = await tx.execute<{ id: string }[]>(
          `select id from users u where id = any(?::uuid[]) and ${NOT_BLOCKED('?::uuid', 'u.id')}`,
          [pgArray(invitees), userId, userId]);
        const missing = invitees.filter((i) => !found.some((f) => f.id === i));
        if (missing.length) throw validationError([{ field: 'invitees', in: 'payload', message: `No such user: ${missing.join(', ')}` }]);
        await tx.execute(`insert into walk_sessions (id, created_by, source, status, created_at) values (?, ?, ?, 'open', ?)`, [id, userId, source, now]);
        await tx.execute(
          `insert into walk_session_participants (session_id, user_id, invited_at, joined_at)
           select ?, u, ?, case when u = ?::uuid then ?::timestamptz end from unnest(?::uuid[]) as u`,
          [id, now, userId, now, pgArray([userId, ...invitees])]);
        return (await load(tx, id))!;
      };
      const announce = () => {
        for (const invitee of invitees) {
          realtime.emitToUser(invitee, 'session.invited', { sessionId: id, createdBy: userId, participants: [userId, ...invitees], createdAt: time.format(now) });
        }
      };
      if (opts.tx) {
        const state = await write(opts.tx);
        onCommitted(opts.tx, () => {
          void store.touch(id, userId, now.getTime()).catch((err: unknown) => logger.warn({ err, sessionId: id }, 'walk together: creator not marked active'));
          announce();
        });
        return dto(state);
      }
      const state = await inTransaction(em.fork(), write);
      await store.touch(id, userId, now.getTime());
      announce();
      return dto(state);
    },

    // A participant (re)joins: the session and the others' last positions. The others hear
    // `joined` (first time, or back after leaving) or `active` (back after being stale).
    join: async (userId: string, sessionId: string): Promise<{ session: SessionDto; positions: RelayedPosition[] }> => {
      ensureSweeping();
      const now = clock.now();
      const { state, fresh } = await inTransaction(em.fork(), async (tx) => {
        const s = await load(tx, sessionId, true);
        const m = member(s, userId);
        open(s!);
        const fresh = !m.joinedAt || Boolean(m.leftAt);
        await tx.execute(
          `update walk_session_participants set joined_at = coalesce(joined_at, ?), left_at = null, stale_at = null where session_id = ? and user_id = ?`,
          [now, sessionId, userId]);
        return { state: (await load(tx, sessionId))!, fresh };
      });
      const wasSilent = await store.touch(sessionId, userId, now.getTime());
      if (fresh) {
        invalidate(sessionId);
        presence(sessionId, userId, 'joined', now);
      } else if (wasSilent) {
        presence(sessionId, userId, 'active', now);
      }
      const positions = (await store.lastPositions(sessionId)).filter((p) => p.userId !== userId);
      return { session: await dto(state), positions };
    },

    // Checks, blurs, rate-limits and records a position; what it returns is what the others get.
    position: async (userId: string, input: PositionInput): Promise<RelayedPosition> => {
      ensureSweeping();
      const s = await cached(input.sessionId);
      const m = member(s, userId);
      open(s!);
      if (!m.joinedAt || m.leftAt) throw conflict('not_joined', 'Join the session (session.join) before sending positions');
      const now = clock.now().getTime();
      if (input.t > now + MAX_FUTURE_MS) throw validationError([{ field: 't', in: 'payload', message: `More than ${MAX_FUTURE_MS / 1000} s in the future` }]);
      if (input.t < now - MAX_AGE_MS) throw validationError([{ field: 't', in: 'payload', message: `Older than ${MAX_AGE_MS / 60_000} minutes` }]);
      // The 1 Hz limit, this node's view first (no await between the check and taking the slot).
      const cell = cells.get(userId);
      if (cell && cell.tat - now > POSITION_TOLERANCE_MS) throw rateLimited(cell.tat - POSITION_TOLERANCE_MS - now);
      const relay: RelayedPosition = { sessionId: input.sessionId, userId, t: input.t, ...blur(s!.zones.get(userId), input) };
      const take = () => cells.set(userId, { tat: Math.max(cell?.tat ?? 0, now) + POSITION_INTERVAL_MS, acceptedAt: now, checkSharedUntil: cell?.checkSharedUntil ?? 0 });
      const recorded = (r: Awaited<ReturnType<typeof store.accept>>) => {
        if (r.shared || !r.ok) {
          const c = cells.get(userId);
          if (c) c.checkSharedUntil = Date.now() + SHARED_CHECK_MS;
        }
        if (r.ok && r.wasSilent) {
          presence(input.sessionId, userId, 'active', new Date(now));
          void em.fork().execute(`update walk_session_participants set stale_at = null where session_id = ? and user_id = ?`, [input.sessionId, userId])
            .catch((err: unknown) => logger.warn({ err }, 'walk together: stale mark not cleared'));
        }
      };
      // A walker this node has been relaying steadily, through this node only: relayed at once, and
      // the shared store (limit, last position, last seen) told right after. Anyone else (first
      // position here, or seen sending through another node) waits for the shared limit's answer, so
      // across nodes at most one position slips past the limit before the strict check takes over.
      if (fastPath && cell && now - cell.acceptedAt <= FAST_PATH_MS && cell.checkSharedUntil <= now) {
        take();
        void store.accept(relay, now, nodeId).then(recorded, (err: unknown) => logger.warn({ err }, 'walk together: position not recorded'));
        return relay;
      }
      const accepted = await store.accept(relay, now, nodeId);
      if (!accepted.ok) {
        recorded(accepted);
        throw rateLimited(accepted.retryAfterMs);
      }
      take();
      recorded(accepted);
      return relay;
    },

    // Leaves the session (idempotent); the last joined walker to leave closes it.
    leave: async (userId: string, sessionId: string): Promise<{ closed: boolean }> => {
      const now = clock.now();
      const result = await inTransaction(em.fork(), (tx) => leaveIn(tx, userId, sessionId, now));
      if (result.left) await afterLeft(sessionId, userId, now);
      return { closed: result.closed };
    },

    // The creator ends the session for everyone.
    end: async (userId: string, sessionId: string): Promise<void> => {
      const now = clock.now();
      await inTransaction(em.fork(), async (tx) => {
        const s = await load(tx, sessionId, true);
        member(s, userId);
        if (s!.createdBy !== userId) throw forbidden('not_session_creator', 'Only the walker who started the session can end it');
        await close(tx, s!, 'ended', now);
      });
    },

    // A walker's walk ended (posted): the sessions they started close, the others they leave.
    endSessionsOfWalker: async (userId: string): Promise<{ ended: string[]; left: string[] }> => {
      const now = clock.now();
      const rows = await em.fork().execute<{ session_id: string }[]>(
        `select p.session_id from walk_session_participants p join walk_sessions s on s.id = p.session_id
         where p.user_id = ? and p.left_at is null and p.joined_at is not null and s.status = 'open'`, [userId]);
      const ended: string[] = [];
      const left: string[] = [];
      for (const { session_id: sessionId } of rows) {
        const outcome = await inTransaction(em.fork(), async (tx) => {
          const s = await load(tx, sessionId, true);
          if (!s || s.status !== 'open') return 'none';
          if (s.createdBy === userId) return (await close(tx, s, 'walk_ended', now)) ? 'ended' : 'none';
          return (await leaveIn(tx, userId, sessionId, now)).left ? 'left' : 'none';
        });
        if (outcome === 'ended') ended.push(sessionId);
        if (outcome === 'left') {
          left.push(sessionId);
          await afterLeft(sessionId, userId, now);
        }
      }
      return { ended, left };
    },

    sweep,
    stop: () => {
      stopped = true;
      clearInterval(sweeper);
      sweeper = undefined;
    },
  };

  async function leaveIn(tx: Em, userId: string, sessionId: string, now: Date): Promise<{ left: boolean; closed: boolean }> {
    const s = await load(tx, sessionId, true);
    const m = member(s, userId);
    if (m.leftAt || s!.status !== 'open') return { left: false, closed: s!.status !== 'open' };
    await tx.execute(`update walk_session_participants set left_at = ? where session_id = ? and user_id = ?`, [now, sessionId, userId]);
    m.leftAt = now;
    const stillIn = [...s!.members.values()].some((x) => x.joinedAt && !x.leftAt);
    const closedNow = !stillIn && (await close(tx, s!, 'everyone_left', now));
    return { left: true, closed: closedNow };
  }

  async function afterLeft(sessionId: string, userId: string, now: Date) {
    invalidate(sessionId);
    presence(sessionId, userId, 'left', now);
    await store.forget(sessionId, userId).catch((err: unknown) => logger.warn({ err }, 'walk together: left walker not forgotten'));
  }
}

export type TogetherService = ReturnType<typeof createTogetherService>;

function rateLimited(waitMs: number): AppError {
  const retryAfterMs = Math.max(1, Math.ceil(waitMs));
  return new AppError(429, 'rate_limited', 'At most one position a second', { extra: { retryAfter: Math.ceil(retryAfterMs / 1000), retryAfterMs } });
}

// The centre of the grid cell (about `cellM` on a side) that holds the point.
export function snapToGrid(p: { lat: number; lng: number }, cellM: number): { lat: number; lng: number } {
  const dLat = cellM / 111_320;
  const lat = Math.max(-90, Math.min(90, (Math.floor(p.lat / dLat) + 0.5) * dLat));
  const dLng = cellM / (111_320 * Math.max(0.01, Math.cos((lat * Math.PI) / 180)));
  let lng = (Math.floor(p.lng / dLng) + 0.5) * dLng;
  if (lng > 180) lng -= 360;
  if (lng < -180) lng += 360;
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  return { lat: round(lat), lng: round(lng) };
}
