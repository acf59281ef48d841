// Likes and comments on anything a module registers as a target type (a chat character, a story, a
// walk). The module says who may see a target and whose it is (resolve): a target that is gone,
// private or hidden from the viewer answers 404 to every social call. Liking is idempotent, and the
// counts are exact however many users like and unlike at once: a count moves only when a reaction
// row was inserted or deleted, in the same transaction, serialised on the target's counter row.
// Comments are threaded one level, paged newest first by cursor, edited and deleted by their author
// only; a deleted comment keeps its place (and its replies) with its body cleared.
import crypto from 'node:crypto';
import { z } from 'zod';
import { cursorCodec } from '../cursor.ts';
import { AppError, notFound } from '../errors.ts';
import { clientInstant, type TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { pgArray } from '../pgArray.ts';

export type SocialCounts = { likes: number; comments: number };

export type SocialTargetSpec = {
  // Unique on the node; modules' types are prefixed with the module (`chat.character`).
  type: string;
  // Whether `viewerId` may see and act on the target, and whose it is; null answers 404.
  resolve: (targetId: string, viewerId: string) => Promise<{ ownerId: string } | null>;
  // In the transaction that changed them: keep a module's own copy of the counts in step.
  onCountsChanged?: (tx: Em, targetId: string, counts: SocialCounts) => Promise<void>;
  // After the change committed (a notification, a ranking score); failures are the module's to log.
  // Called for the owner's own likes too: a module that notifies skips those.
  onLiked?: (e: { targetId: string; ownerId: string; userId: string; counts: SocialCounts }) => void;
  onUnliked?: (e: { targetId: string; ownerId: string; userId: string; counts: SocialCounts }) => void;
  onCommented?: (e: { targetId: string; ownerId: string; userId: string; comment: CommentDto; counts: SocialCounts }) => void;
};

export const commentDto = z
  .object({
    id: z.uuid(),
    targetId: z.string(),
    author: z.object({ id: z.uuid(), username: z.string(), displayName: z.string().nullable() }),
    parentId: z.uuid().nullable(),
    body: z.string().meta({ description: 'Empty once deleted' }),
    deleted: z.boolean(),
    edited: z.boolean(),
    createdAt: z.string(),
  })
  .meta({ id: 'Comment' });
export type CommentDto = z.infer<typeof commentDto>;

export const likeStatusDto = z.object({ liked: z.boolean(), likeCount: z.number().int(), commentCount: z.number().int() }).meta({ id: 'LikeStatus' });
export type LikeStatus = z.infer<typeof likeStatusDto>;

export const commentInput = z.object({
  body: z.string().trim().min(1).max(2000),
  parentId: z.uuid().optional().meta({ description: 'Reply to this comment (replies to a reply join its thread)' }),
});

const commentsCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

type CommentRow = {
  id: string; target_type: string; target_id: string; author_id: string; parent_id: string | null; body: string;
  created_at: Date; edited_at: Date | null; deleted_at: Date | null; username: string; display_name: string | null;
};

const COMMENT_COLUMNS = `c.id, c.target_type, c.target_id, c.author_id, c.parent_id, c.body, c.created_at, c.edited_at, c.deleted_at, u.username, u.display_name`;

export function createSocialService(deps: { em: Em; time: TimeFormatter }) {
  const { em, time } = deps;
  const targets = new Map<string, SocialTargetSpec>();

  const toComment = (r: CommentRow): CommentDto => ({
    id: r.id, targetId: r.target_id, author: { id: r.author_id, username: r.username, displayName: r.display_name }, parentId: r.parent_id,
    body: r.deleted_at ? '' : r.body, deleted: r.deleted_at !== null, edited: r.edited_at !== null, createdAt: time.format(new Date(r.created_at)),
  });

  async function bump(tx: Em, type: string, id: string, likes: number, comments: number): Promise<SocialCounts> {
    const [row] = await tx.execute<{ likes: string; comments: string }[]>(
      `insert into social_counters (target_type, target_id, likes, comments) values (?, ?, greatest(?::bigint, 0), greatest(?::bigint, 0))
       on conflict (target_type, target_id) do update set likes = social_counters.likes + ?::bigint, comments = social_counters.comments + ?::bigint
       returning likes, comments`,
      [type, id, likes, comments, likes, comments],
    );
    return { likes: Number(row.likes), comments: Number(row.comments) };
  }

  async function countsOf(db: Em, type: string, ids: string[]): Promise<Map<string, SocialCounts>> {
    const rows = ids.length
      ? await db.execute<{ target_id: string; likes: string; comments: string }[]>(`select target_id, likes, comments from social_counters where target_type = ? and target_id = any(?::text[])`, [type, pgArray(ids)])
      : [];
    return new Map(rows.map((r) => [r.target_id, { likes: Number(r.likes), comments: Number(r.comments) }]));
  }

  function define(spec: SocialTargetSpec) {
    if (targets.has(spec.type)) throw new Error(`social target type ${spec.type} is defined twice`);
    targets.set(spec.type, spec);
    const { type } = spec;

    async function target(targetId: string, viewerId: string): Promise<{ ownerId: string }> {
      const found = await spec.resolve(targetId, viewerId);
      if (!found) throw notFound('Target');
      return found;
    }

    async function status(userId: string, targetId: string): Promise<LikeStatus> {
      await target(targetId, userId);
      const db = em.fork();
      const [mine] = await db.execute<{ ok: boolean }[]>(`select true as ok from social_reactions where target_type = ? and target_id = ? and kind = 'like' and user_id = ?`, [type, targetId, userId]);
      const counts = (await countsOf(db, type, [targetId])).get(targetId) ?? { likes: 0, comments: 0 };
      return { liked: Boolean(mine), likeCount: counts.likes, commentCount: counts.comments };
    }

    // Idempotent both ways: liking twice is one like, unliking what is not liked changes nothing.
    async function setLiked(userId: string, targetId: string, liked: boolean): Promise<LikeStatus> {
      const { ownerId } = await target(targetId, userId);
      const { counts, changed } = await inTransaction(em.fork(), async (tx) => {
        const moved = liked
          ? await tx.execute<{ user_id: string }[]>(`insert into social_reactions (target_type, target_id, kind, user_id) values (?, ?, 'like', ?) on conflict do nothing returning user_id`, [type, targetId, userId])
          : await tx.execute<{ user_id: string }[]>(`delete from social_reactions where target_type = ? and target_id = ? and kind = 'like' and user_id = ? returning user_id`, [type, targetId, userId]);
        if (moved.length === 0) return { counts: (await countsOf(tx, type, [targetId])).get(targetId) ?? { likes: 0, comments: 0 }, changed: false };
        const c = await bump(tx, type, targetId, liked ? 1 : -1, 0);
        await spec.onCountsChanged?.(tx, targetId, c);
        return { counts: c, changed: true };
      });
      if (changed && liked) spec.onLiked?.({ targetId, ownerId, userId, counts });
      if (changed && !liked) spec.onUnliked?.({ targetId, ownerId, userId, counts });
      return { liked, likeCount: counts.likes, commentCount: counts.comments };
    }

    async function comment(userId: string, targetId: string, input: z.infer<typeof commentInput>): Promise<CommentDto> {
      const { ownerId } = await target(targetId, userId);
      const { dto, counts } = await inTransaction(em.fork(), async (tx) => {
        let parentId: string | null = null;
        if (input.parentId) {
          const [parent] = await tx.execute<{ id: string; parent_id: string | null }[]>(`select id, parent_id from social_comments where id = ? and target_type = ? and target_id = ?`, [input.parentId, type, targetId]);
          if (!parent) throw new AppError(400, 'unknown_parent', 'parentId: no such comment on this target', { issues: [{ field: 'parentId', message: 'no such comment on this target' }] });
          parentId = parent.parent_id ?? parent.id;
        }
        const id = crypto.randomUUID();
        await tx.execute(`insert into social_comments (id, target_type, target_id, author_id, parent_id, body) values (?, ?, ?, ?, ?, ?)`, [id, type, targetId, userId, parentId, input.body]);
        const c = await bump(tx, type, targetId, 0, 1);
        await spec.onCountsChanged?.(tx, targetId, c);
        const [row] = await tx.execute<CommentRow[]>(`select ${COMMENT_COLUMNS} from social_comments c join users u on u.id = c.author_id where c.id = ?`, [id]);
        return { dto: toComment(row), counts: c };
      });
      if (ownerId !== userId) spec.onCommented?.({ targetId, ownerId, userId, comment: dto, counts });
      return dto;
    }

    async function comments(viewerId: string, targetId: string, q: { cursor?: string; limit: number }): Promise<{ items: CommentDto[]; nextCursor: string | null }> {
      await target(targetId, viewerId);
      const after = q.cursor ? commentsCursor.decode(q.cursor) : undefined;
      const rows = await em.fork().execute<CommentRow[]>(
        `select ${COMMENT_COLUMNS} from social_comments c join users u on u.id = c.author_id
          where c.target_type = ? and c.target_id = ?
            and (?::timestamptz is null or (c.created_at, c.id) < (?::timestamptz, ?::uuid))
          order by c.created_at desc, c.id desc limit ?`,
        [type, targetId, after?.at ?? null, after?.at ?? null, after?.id ?? null, q.limit + 1],
      );
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return { items: page.map(toComment), nextCursor: rows.length > q.limit && last ? commentsCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.id }) : null };
    }

    // The comment, if it is one of this type's and its target is still there for the user.
    async function ownComment(db: Em, userId: string, commentId: string): Promise<CommentRow> {
      const [row] = await db.execute<CommentRow[]>(`select ${COMMENT_COLUMNS} from social_comments c join users u on u.id = c.author_id where c.id = ? and c.target_type = ? for update of c`, [commentId, type]);
      if (!row || row.deleted_at) throw notFound('Comment');
      await target(row.target_id, userId);
      if (row.author_id !== userId) throw new AppError(403, 'not_author', 'Only its author may change a comment');
      return row;
    }

    async function editComment(userId: string, commentId: string, body: string): Promise<CommentDto> {
      return inTransaction(em.fork(), async (tx) => {
        await ownComment(tx, userId, commentId);
        await tx.execute(`update social_comments set body = ?, edited_at = now() where id = ?`, [body, commentId]);
        const [row] = await tx.execute<CommentRow[]>(`select ${COMMENT_COLUMNS} from social_comments c join users u on u.id = c.author_id where c.id = ?`, [commentId]);
        return toComment(row);
      });
    }

    async function deleteComment(userId: string, commentId: string): Promise<void> {
      await inTransaction(em.fork(), async (tx) => {
        const row = await ownComment(tx, userId, commentId);
        await tx.execute(`update social_comments set deleted_at = now() where id = ?`, [commentId]);
        const c = await bump(tx, type, row.target_id, 0, -1);
        await spec.onCountsChanged?.(tx, row.target_id, c);
      });
    }

    return {
      type,
      status,
      like: (userId: string, targetId: string) => setLiked(userId, targetId, true),
      unlike: (userId: string, targetId: string) => setLiked(userId, targetId, false),
      comment,
      comments,
      editComment,
      deleteComment,
      counts: (ids: string[]) => countsOf(em.fork(), type, ids),
      // Targets a user liked, newest first (recommendations read it).
      likedBy: async (userId: string, limit: number) =>
        (await em.fork().execute<{ target_id: string }[]>(`select target_id from social_reactions where user_id = ? and target_type = ? and kind = 'like' order by created_at desc limit ?`, [userId, type, limit])).map((r) => r.target_id),
    };
  }

  return { define };
}

export type SocialService = ReturnType<typeof createSocialService>;
export type SocialTarget = ReturnType<SocialService['define']>;

// What a module is given: target types named within the module.
export type ModuleSocial = { define: (spec: SocialTargetSpec) => SocialTarget };

export function moduleSocial(social: SocialService, module: string): ModuleSocial {
  return { define: (spec) => social.define({ ...spec, type: `${module}.${spec.type}` }) };
}
