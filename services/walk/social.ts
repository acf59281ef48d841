// The walk app's social side (seed 003 follows, likes/comments, feed, friend recommendations) and
// blocking, which everything social asks first: a blocked user sees nothing of the blocker (their
// profile, walks, lists, feed entries) and cannot follow, like, comment on or invite them. Blocking
// either way ends both follows. Likes and comments are the platform's social service (walk targets);
// this file keeps the walk's own copy of the counts, which the feed's order reads.
import { z } from 'zod';
import type { Logger } from 'pino';
import { cursorCodec } from '../cursor.ts';
import { conflict, notFound } from '../errors.ts';
import type { ModuleSocial, SocialTarget } from '../social/social.ts';
import { clientInstant, type TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import { pgArray } from '../pgArray.ts';

// ---- The feed's order ----
// walks.feed_score: recency in hours plus engagement and distance on log scales, kept by a trigger
// (entities/migrations/walk/Migration20261127000306_walk_social.ts says how much each is worth).

// SQL: `viewer` and `other` (SQL expressions, each written twice: a `?` in one takes two
// parameters) — neither has blocked the other. Every query that shows one walker to another uses it.
export const NOT_BLOCKED = (viewer: string, other: string) =>
  `not exists (select 1 from walk_blocks b where (b.blocker_id = ${other} and b.blocked_id = ${viewer}) or (b.blocker_id = ${viewer} and b.blocked_id = ${other}))`;

// Either way: one of them blocked the other. Everything that shows one walker to another asks this.
export async function blockedEitherWay(db: Em, a: string, b: string): Promise<boolean> {
  if (a === b) return false;
  return (await db.execute(`select 1 from walk_blocks where (blocker_id = ? and blocked_id = ?) or (blocker_id = ? and blocked_id = ?) limit 1`, [a, b, b, a])).length > 0;
}

export const walkerDto = z.object({ userId: z.uuid(), nickname: z.string(), region: z.string().nullable(), since: z.string() }).meta({ id: 'WalkWalker' });
export const feedItemDto = z
  .object({
    walkId: z.uuid(), userId: z.uuid(), nickname: z.string(), startedAt: z.string(), localDate: z.string(), distanceM: z.number().int(), durationS: z.number().int(),
    likes: z.number().int(), comments: z.number().int(), likedByMe: z.boolean(),
  })
  .meta({ id: 'WalkFeedItem' });
export const recommendationDto = z
  .object({
    userId: z.uuid(), nickname: z.string(), region: z.string().nullable(), score: z.number(),
    reasons: z.object({ mutualFollows: z.number().int(), sameRegion: z.boolean(), similarWalkHours: z.boolean() }),
  })
  .meta({ id: 'WalkFriendRecommendation' });

// From this many followees on, the feed walks the global order (see feed()).
const FEED_GLOBAL_SCAN_FOLLOWS = 50;
const followCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));
const feedCursor = cursorCodec(z.object({ score: z.number(), id: z.uuid() }));

export function createWalkSocialService(deps: {
  em: Em; time: TimeFormatter; logger: Logger; social: ModuleSocial;
  notify: (userId: string, input: { type: string; title: string; body: string; data: Record<string, unknown> }) => Promise<unknown>;
}) {
  const { em, time, logger } = deps;
  const tell = (userId: string, input: Parameters<typeof deps.notify>[1]) => void deps.notify(userId, input).catch((err: unknown) => logger.warn({ err, type: input.type }, 'notification not sent'));

  // A walker the viewer may see: exists, has a walk profile or account, and has not blocked them.
  async function visibleWalker(db: Em, viewerId: string, userId: string): Promise<void> {
    const [u] = await db.execute<{ id: string }[]>(`select id from users where id = ? and disabled_at is null`, [userId]);
    if (!u || (viewerId !== userId && (await blockedEitherWay(db, viewerId, userId)))) throw notFound('Walker');
  }

  async function follow(userId: string, targetId: string): Promise<{ following: boolean }> {
    if (userId === targetId) throw conflict('self_follow', 'You cannot follow yourself', 'id');
    let fresh = false;
    await inTransaction(em.fork(), async (tx) => {
      await visibleWalker(tx, userId, targetId);
      fresh = (await tx.execute(`insert into walk_follows (follower_id, followee_id) values (?, ?) on conflict do nothing returning follower_id`, [userId, targetId])).length > 0;
      if (fresh) onCommitted(tx, async () => {
        const [me] = await em.fork().execute<{ nickname: string }[]>(`select coalesce(p.nickname, u.username) as nickname from users u left join walk_profiles p on p.user_id = u.id where u.id = ?`, [userId]);
        tell(targetId, { type: 'walk.new_follower', title: '새 팔로워', body: `${me?.nickname ?? '누군가'}님이 회원님을 팔로우했어요`, data: { userId } });
      });
    });
    return { following: true };
  }

  async function unfollow(userId: string, targetId: string): Promise<{ following: boolean }> {
    await em.fork().execute(`delete from walk_follows where follower_id = ? and followee_id = ?`, [userId, targetId]);
    return { following: false };
  }

  async function block(userId: string, targetId: string): Promise<{ blocked: boolean }> {
    if (userId === targetId) throw conflict('self_block', 'You cannot block yourself', 'id');
    await inTransaction(em.fork(), async (tx) => {
      const [u] = await tx.execute(`select 1 from users where id = ?`, [targetId]);
      if (!u) throw notFound('Walker');
      await tx.execute(`insert into walk_blocks (blocker_id, blocked_id) values (?, ?) on conflict do nothing`, [userId, targetId]);
      await tx.execute(`delete from walk_follows where (follower_id = ? and followee_id = ?) or (follower_id = ? and followee_id = ?)`, [userId, targetId, targetId, userId]);
      await tx.execute(`delete from walk_friend_recommendations where (user_id = ? and candidate_id = ?) or (user_id = ? and candidate_id = ?)`, [userId, targetId, targetId, userId]);
    });
    return { blocked: true };
  }

  async function unblock(userId: string, targetId: string): Promise<{ blocked: boolean }> {
    await em.fork().execute(`delete from walk_blocks where blocker_id = ? and blocked_id = ?`, [userId, targetId]);
    return { blocked: false };
  }

  // Followers or followings of `userId`, newest first, without anyone who blocked the viewer (or
  // whom the viewer blocked).
  async function list(viewerId: string, userId: string, which: 'followers' | 'following' | 'blocked', opts: { limit: number; cursor?: string }) {
    const db = em.fork();
    if (which === 'blocked' && viewerId !== userId) throw notFound('Walker');
    await visibleWalker(db, viewerId, userId);
    const after = opts.cursor ? followCursor.decode(opts.cursor) : null;
    const [table, mine, theirs] = which === 'followers' ? ['walk_follows', 'followee_id', 'follower_id'] : which === 'following' ? ['walk_follows', 'follower_id', 'followee_id'] : ['walk_blocks', 'blocker_id', 'blocked_id'];
    const rows = await db.execute<{ user_id: string; nickname: string; region: string | null; created_at: Date }[]>(
      `select f.${theirs} as user_id, coalesce(p.nickname, u.username) as nickname, p.region, f.created_at
         from ${table} f join users u on u.id = f.${theirs} left join walk_profiles p on p.user_id = f.${theirs}
        where f.${mine} = ?${which === 'blocked' ? '' : ` and ${NOT_BLOCKED('?::uuid', `f.${theirs}`)}`}
          ${after ? `and (f.created_at, f.${theirs}) < (?, ?)` : ''}
        order by f.created_at desc, f.${theirs} desc limit ?`,
      [userId, ...(which === 'blocked' ? [] : [viewerId, viewerId]), ...(after ? [after.at, after.id] : []), opts.limit + 1]);
    const page = rows.slice(0, opts.limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ userId: r.user_id, nickname: r.nickname, region: r.region, since: time.format(new Date(r.created_at)) })),
      nextCursor: rows.length > opts.limit && last ? followCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.user_id }) : null,
    };
  }

  // Trusted walks of the people I follow (and mine), by feed score, by cursor. Two plans for one
  // order: with many followees, walk the global feed order (walks_feed_index) until a page of theirs
  // is found — dense, so a few hundred index entries; with few, take each followee's own best page
  // (walks_feed_user_index) and the best of those — a scan of the global order would walk most of
  // the table to find a quiet walker's old walks. The two agree row for row (a test checks it).
  async function feed(viewerId: string, opts: { limit: number; cursor?: string; plan?: 'global' | 'per_followee' }) {
    const db = em.fork();
    const after = opts.cursor ? feedCursor.decode(opts.cursor) : null;
    const [{ n }] = await db.execute<{ n: string }[]>(`select count(*) as n from walk_follows where follower_id = ?`, [viewerId]);
    const plan = opts.plan ?? (Number(n) >= FEED_GLOBAL_SCAN_FOLLOWS ? 'global' : 'per_followee');
    const circle = `select f.followee_id as user_id from walk_follows f where f.follower_id = ? and ${NOT_BLOCKED('?::uuid', 'f.followee_id')} union all select ?::uuid`;
    const circleArgs = [viewerId, viewerId, viewerId, viewerId]; // follower, the two sides of the block check, me
    const columns = `w.id, w.user_id, w.started_at, w.local_date, w.distance_m, w.duration_s, w.like_count, w.comment_count, w.feed_score`;
    const cursorCond = after ? ' and (w.feed_score, w.id) < (?, ?)' : '';
    const cursorArgs = after ? [after.score, after.id] : [];
    const page = plan === 'global'
      ? { sql: `select ${columns} from walks w where w.trusted and w.user_id in (${circle})${cursorCond} order by w.feed_score desc, w.id desc limit ?`,
          args: [...circleArgs, ...cursorArgs, opts.limit + 1] }
      : { sql: `select w.* from (${circle}) c cross join lateral (
              select ${columns} from walks w where w.user_id = c.user_id and w.trusted${cursorCond} order by w.feed_score desc, w.id desc limit ?) w
            order by w.feed_score desc, w.id desc limit ?`,
          args: [...circleArgs, ...cursorArgs, opts.limit + 1, opts.limit + 1] };
    const rows = await db.execute<{ id: string; user_id: string; nickname: string; started_at: Date; local_date: string; distance_m: number; duration_s: number; like_count: number; comment_count: number; feed_score: number; liked: boolean }[]>(
      `select w.id, w.user_id, coalesce(p.nickname, u.username) as nickname, w.started_at, to_char(w.local_date, 'YYYY-MM-DD') as local_date, w.distance_m, w.duration_s,
              w.like_count, w.comment_count, w.feed_score,
              exists (select 1 from social_reactions l where l.target_type = 'walk.walk' and l.target_id = w.id::text and l.kind = 'like' and l.user_id = ?) as liked
         from (${page.sql}) w join users u on u.id = w.user_id left join walk_profiles p on p.user_id = w.user_id
        order by w.feed_score desc, w.id desc`,
      [viewerId, ...page.args]);
    const items = rows.slice(0, opts.limit);
    const last = items.at(-1);
    return {
      items: items.map((r) => ({
        walkId: r.id, userId: r.user_id, nickname: r.nickname, startedAt: time.format(new Date(r.started_at)), localDate: r.local_date, distanceM: r.distance_m, durationS: r.duration_s,
        likes: r.like_count, comments: r.comment_count, likedByMe: r.liked,
      })),
      nextCursor: rows.length > opts.limit && last ? feedCursor.encode({ score: Number(last.feed_score), id: last.id }) : null,
    };
  }

  // Likes and comments on walks: anyone who may see the walk (trusted, or their own; not blocked
  // either way); the walk keeps its counts and its feed score in step, in the same transaction.
  const walkTarget: SocialTarget = deps.social.define({
    type: 'walk',
    resolve: async (walkId, viewerId) => {
      const [w] = await em.fork().execute<{ user_id: string; trusted: boolean }[]>(`select user_id, trusted from walks where id = ?`, [walkId]);
      if (!w || (w.user_id !== viewerId && (!w.trusted || (await blockedEitherWay(em.fork(), viewerId, w.user_id))))) return null;
      return { ownerId: w.user_id };
    },
    onCountsChanged: async (tx, walkId, counts) => {
      // The trigger moves feed_score with the counts.
      await tx.execute(`update walks set like_count = ?, comment_count = ? where id = ?`, [counts.likes, counts.comments, walkId]);
    },
    onLiked: (e) => {
      // Likes and comments are one type (walk.reaction): one switch and one push limit in the user's settings.
      if (e.ownerId !== e.userId) tell(e.ownerId, { type: 'walk.reaction', title: '산책에 좋아요', body: `좋아요 ${e.counts.likes}개`, data: { action: 'liked', walkId: e.targetId, likeCount: e.counts.likes } });
    },
    onCommented: (e) => {
      if (e.ownerId !== e.userId) tell(e.ownerId, { type: 'walk.reaction', title: '산책에 새 댓글', body: e.comment.body.slice(0, 100), data: { action: 'commented', walkId: e.targetId, commentId: e.comment.id } });
    },
  });

  // Friend recommendations for every walker with a profile, recomputed in batches: candidates are
  // followees of my followees (mutual follows), walkers of my region, and walkers whose usual walk
  // hour (the commonest local hour of their trusted walks in the last 60 days) is within an hour of
  // mine; never me, anyone I follow, or anyone blocked either way. Score: 3 per mutual follow, 2 for
  // the region, 1 for the hours; the best 20 are kept.
  async function recomputeRecommendations(opts: { batch?: number; now?: Date } = {}): Promise<{ users: number; rows: number }> {
    const batch = opts.batch ?? 500;
    const now = opts.now ?? new Date();
    let after = '00000000-0000-0000-0000-000000000000';
    let users = 0;
    let rows = 0;
    for (;;) {
      const ids = (await em.fork().execute<{ user_id: string }[]>(`select user_id from walk_profiles where user_id > ? order by user_id limit ?`, [after, batch])).map((r) => r.user_id);
      if (!ids.length) break;
      after = ids[ids.length - 1];
      const written = await inTransaction(em.fork(), async (tx) => {
        await tx.execute(`delete from walk_friend_recommendations where user_id = any(?::uuid[])`, [pgArray(ids)]);
        return tx.execute(RECOMMEND_SQL, [pgArray(ids), now, now]);
      });
      users += ids.length;
      rows += written.length;
    }
    return { users, rows };
  }

  async function recommendations(viewerId: string, limit: number) {
    const rows = await em.fork().execute<{ candidate_id: string; nickname: string; region: string | null; score: number; reasons: z.infer<typeof recommendationDto>['reasons'] }[]>(
      `select r.candidate_id, coalesce(p.nickname, u.username) as nickname, p.region, r.score, r.reasons
         from walk_friend_recommendations r join users u on u.id = r.candidate_id left join walk_profiles p on p.user_id = r.candidate_id
        where r.user_id = ? and ${NOT_BLOCKED('r.user_id', 'r.candidate_id')}
          and not exists (select 1 from walk_follows f where f.follower_id = r.user_id and f.followee_id = r.candidate_id)
        order by r.score desc, r.candidate_id limit ?`, [viewerId, limit]);
    return { items: rows.map((r) => ({ userId: r.candidate_id, nickname: r.nickname, region: r.region, score: Number(r.score), reasons: r.reasons })) };
  }

  return { follow, unfollow, block, unblock, list, feed, walkTarget, recomputeRecommendations, recommendations };
}

// Parameters: the batch's user ids, now, now. Returns one row per recommendation written.
const RECOMMEND_SQL = `
  with me as (select p.user_id, p.region from walk_profiles p where p.user_id = any(?::uuid[])),
  hours as (
    select w.user_id, mode() within group (order by w.local_hour) as hour
      from walks w where w.trusted and w.started_at > ?::timestamptz - interval '60 days' group by w.user_id),
  mutual as (
    select me.user_id, f2.followee_id as candidate_id, count(*)::int as n
      from me join walk_follows f1 on f1.follower_id = me.user_id join walk_follows f2 on f2.follower_id = f1.followee_id
     group by me.user_id, f2.followee_id),
  regional as (
    select me.user_id, p.user_id as candidate_id from me join walk_profiles p on p.region = me.region and me.region is not null and p.user_id <> me.user_id),
  timed as (
    select me.user_id, h2.user_id as candidate_id
      from me join hours h1 on h1.user_id = me.user_id join hours h2 on abs(h2.hour - h1.hour) <= 1 and h2.user_id <> me.user_id),
  candidates as (
    select user_id, candidate_id, max(n) as mutual, bool_or(is_region) as same_region, bool_or(is_timed) as similar_hours from (
      select user_id, candidate_id, n, false as is_region, false as is_timed from mutual
      union all select user_id, candidate_id, 0, true, false from regional
      union all select user_id, candidate_id, 0, false, true from timed) c
     where candidate_id <> user_id
       and not exists (select 1 from walk_follows f where f.follower_id = c.user_id and f.followee_id = c.candidate_id)
       and not exists (select 1 from walk_blocks b where (b.blocker_id = c.user_id and b.blocked_id = c.candidate_id) or (b.blocker_id = c.candidate_id and b.blocked_id = c.user_id))
     group by user_id, candidate_id),
  ranked as (
    select *, 3 * mutual + 2 * same_region::int + similar_hours::int as score,
           row_number() over (partition by user_id order by 3 * mutual + 2 * same_region::int + similar_hours::int desc, candidate_id) as n
      from candidates)
  insert into walk_friend_recommendations (user_id, candidate_id, score, reasons, computed_at)
  select user_id, candidate_id, score, jsonb_build_object('mutualFollows', mutual, 'sameRegion', same_region, 'similarWalkHours', similar_hours), ?::timestamptz
    from ranked where n <= 20 and score > 0
  returning user_id`;

export type WalkSocialService = ReturnType<typeof createWalkSocialService>;
