// Rankings and discovery for the chat: characters and stories scored on the platform's ranking
// boards as people use them (a like 3, a comment 2, a reply or a story view 1; an unlike takes its 3
// back), read per KST day, week, month or all time; trending by growth over the previous day; and
// recommendations from what a user liked and chatted with. Ranked lists never show a character or
// story the viewer may not see (private, inactive, deleted): such an item keeps its place on the
// board, and the list shows the rest with their board ranks.
import { z } from 'zod';
import type { RankingBoard, RankingPeriod } from '../rankings/rankings.ts';
import type { SocialTarget } from '../social/social.ts';
import type { TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { CharacterService, CharacterDto } from './characters.ts';
import { pgArray } from '../pgArray.ts';

export const SCORES = { like: 3, comment: 2, reply: 1, view: 1 } as const;

export const rankedItemDto = z.object({ rank: z.number().int(), score: z.number().int(), id: z.uuid(), name: z.string(), creatorId: z.uuid(), likeCount: z.number().int() }).meta({ id: 'RankedItem' });
export type RankedItem = z.infer<typeof rankedItemDto>;

type Summary = { id: string; name: string; creator_id: string; like_count: number };

export function createDiscoveryService(deps: {
  em: Em; time: TimeFormatter; characters: CharacterService; characterBoard: RankingBoard; storyBoard: RankingBoard; characterLikes: SocialTarget;
}) {
  const { em } = deps;

  // The visible ones among `ids`, by id: public, active characters (or the viewer's own).
  async function characterSummaries(viewerId: string, ids: string[]): Promise<Map<string, Summary>> {
    if (ids.length === 0) return new Map();
    const rows = await em.fork().execute<Summary[]>(
      `select id, name, creator_id, like_count from chat_characters where id = any(?::uuid[]) and deleted_at is null and ((is_public and is_active) or creator_id = ?)`,
      [pgArray(ids), viewerId],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  async function storySummaries(viewerId: string, ids: string[]): Promise<Map<string, Summary>> {
    if (ids.length === 0) return new Map();
    const rows = await em.fork().execute<Summary[]>(
      `select id, title as name, creator_id, like_count from chat_stories where id = any(?::uuid[]) and deleted_at is null and status = 'done' and (is_public or creator_id = ?)`,
      [pgArray(ids), viewerId],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  const uuid = z.uuid();
  const onlyUuids = (ids: string[]) => ids.filter((i) => uuid.safeParse(i).success);

  async function ranking(viewerId: string, kind: 'characters' | 'stories', q: { period: RankingPeriod; limit: number; itemId?: string }) {
    const board = kind === 'characters' ? deps.characterBoard : deps.storyBoard;
    const result = await board.leaderboard(q.period, { limit: q.limit, itemId: q.itemId });
    const summaries = await (kind === 'characters' ? characterSummaries : storySummaries)(viewerId, onlyUuids(result.items.map((i) => i.itemId)));
    const items: RankedItem[] = result.items.flatMap((e) => {
      const s = summaries.get(e.itemId);
      return s ? [{ rank: e.rank, score: e.score, id: s.id, name: s.name, creatorId: s.creator_id, likeCount: s.like_count }] : [];
    });
    // Your own item's place, when you asked for one you may see.
    const mine = q.itemId && (await (kind === 'characters' ? characterSummaries : storySummaries)(viewerId, onlyUuids([q.itemId]))).size ? result.mine : null;
    return { period: result.period, items, mine };
  }

  async function trending(viewerId: string, limit: number) {
    const rows = await deps.characterBoard.trending({ limit: Math.min(100, limit * 2) });
    const summaries = await characterSummaries(viewerId, onlyUuids(rows.map((r) => r.itemId)));
    return rows.flatMap((r) => {
      const s = summaries.get(r.itemId);
      return s && s.creator_id !== viewerId ? [{ id: s.id, name: s.name, creatorId: s.creator_id, likeCount: s.like_count, growth: r.growth, score: r.score, previous: r.previous }] : [];
    }).slice(0, limit);
  }

  // From the tags and types of what the user liked and chatted with: other public characters that
  // share them, best all-time score first; a user with no history gets the most popular ones. Never
  // their own, private ones, or ones they already liked or chat with.
  async function recommend(userId: string, limit: number): Promise<{ basedOn: 'history' | 'popular'; items: CharacterDto[] }> {
    const db = em.fork();
    const liked = await deps.characterLikes.likedBy(userId, 50);
    const chatted = (await db.execute<{ character_id: string }[]>(`select distinct character_id from chat_rooms where user_id = ? and deleted_at is null limit 50`, [userId])).map((r) => r.character_id);
    const known = [...new Set([...liked, ...chatted])];
    const ids = known.length
      ? (await db.execute<{ id: string }[]>(
        `with taste as (
           select unnest(tags) as tag from chat_characters where id = any(?::uuid[])
         ), types as (
           select distinct character_type from chat_characters where id = any(?::uuid[]) and character_type is not null
         )
         select c.id from chat_characters c
          where c.deleted_at is null and c.is_public and c.is_active and c.creator_id <> ? and not (c.id = any(?::uuid[]))
            and (c.tags && (select coalesce(array_agg(tag), '{}') from taste) or c.character_type in (select character_type from types))
          order by (select count(*) from unnest(c.tags) t where t in (select tag from taste)) desc, c.chat_count desc, c.like_count desc, c.id
          limit ?`,
        [pgArray(known), pgArray(known), userId, pgArray(known), limit],
      )).map((r) => r.id)
      : [];
    const basedOn = ids.length ? 'history' as const : 'popular' as const;
    let pick = ids;
    if (!pick.length) {
      const top = await deps.characterBoard.top('all', { limit: 100 });
      const visible = await characterSummaries(userId, onlyUuids(top.map((t) => t.itemId)));
      pick = top.map((t) => t.itemId).filter((id) => visible.get(id) && visible.get(id)!.creator_id !== userId && !known.includes(id)).slice(0, limit);
      if (pick.length < limit) {
        const more = await db.execute<{ id: string }[]>(
          `select id from chat_characters where deleted_at is null and is_public and is_active and creator_id <> ? and not (id = any(?::uuid[])) order by chat_count desc, like_count desc, created_at desc limit ?`,
          [userId, pgArray([...pick, ...known]), limit - pick.length],
        );
        pick = [...pick, ...more.map((r) => r.id)];
      }
    }
    const items = await Promise.all(pick.map((id) => deps.characters.get(id, userId)));
    return { basedOn, items };
  }

  return { ranking, trending, recommend };
}

export type DiscoveryService = ReturnType<typeof createDiscoveryService>;
