// Stories starring characters: written by hand, or generated from a prompt by the LLM as one of the
// platform's resumable streams (like a reply: resumable on any node, closed once if its node dies),
// priced in points (held, settled, released when it does not complete). Their creator edits and
// deletes them; public ones are listed for everyone; operators feature them; a view counts once per
// user per KST day.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { PointsWallet } from '../billing/points.ts';
import { cursorCodec } from '../cursor.ts';
import { AppError, notFound } from '../errors.ts';
import type { LlmModule } from '../llm/gateway.ts';
import { LlmError } from '../llm/errors.ts';
import type { NamespacePort } from '../realtime.ts';
import type { ModuleStreams, RunningStream } from '../streams/resumableStreams.ts';
import { clientInstant, zoneCalendar, type Clock, type TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { Character, CharacterService } from './characters.ts';
import type { chatServerEvents } from './schemas.ts';
import { pgArray } from '../pgArray.ts';

const genres = z.array(z.string().trim().min(1).max(30)).max(10).default([]);

export const storyInput = z.object({
  title: z.string().trim().min(1).max(200),
  content: z.string().trim().min(1).max(50_000),
  summary: z.string().trim().max(1000).optional(),
  characterIds: z.array(z.uuid()).max(10).default([]),
  genres,
  isPublic: z.boolean().default(true),
});
export type StoryInput = z.infer<typeof storyInput>;

export const generateStoryInput = z.object({
  characterIds: z.array(z.uuid()).min(1).max(5),
  prompt: z.string().trim().min(2).max(2000).meta({ description: 'What the story is about' }),
  title: z.string().trim().min(1).max(200).optional(),
  genres,
  isPublic: z.boolean().default(true),
  length: z.enum(['short', 'medium', 'long']).default('medium'),
});
export type GenerateStoryInput = z.infer<typeof generateStoryInput>;

export const storyDto = z
  .object({
    id: z.uuid(),
    creatorId: z.uuid(),
    characterIds: z.array(z.uuid()),
    title: z.string(),
    content: z.string(),
    summary: z.string().nullable(),
    genres: z.array(z.string()),
    isPublic: z.boolean(),
    isFeatured: z.boolean(),
    status: z.enum(['streaming', 'done', 'failed', 'cancelled']),
    pointsCharged: z.number().int(),
    viewCount: z.number().int(),
    likeCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Story' });
export type StoryDto = z.infer<typeof storyDto>;

export const storyListQuery = z.object({
  genre: z.string().trim().min(1).max(30).optional(),
  characterId: z.uuid().optional(),
  featured: z.stringbool().optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

export const storyDone = z.object({ story: storyDto, usage: z.object({ promptTokens: z.number().int(), completionTokens: z.number().int() }), pointsCharged: z.number().int(), balance: z.number().int() });
export type StoryDone = z.infer<typeof storyDone>;
export const storyFailure = z.object({ storyId: z.uuid(), code: z.string(), message: z.string(), offset: z.number().int().min(0), pointsCharged: z.literal(0) });
export type StoryFailure = z.infer<typeof storyFailure>;
export const storyDelta = z.object({ storyId: z.uuid(), offset: z.number().int().min(0), text: z.string() });

type Row = {
  id: string; creator_id: string; character_ids: string[]; title: string; content: string; summary: string | null; genres: string[]; is_public: boolean;
  is_featured: boolean; status: StoryDto['status']; reservation_id: string | null; points_charged: number; view_count: number; like_count: number;
  created_at: Date; updated_at: Date;
};

const listCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));
const MAX_TOKENS = { short: 600, medium: 1200, long: 2400 } as const;
const SWEEP_AFTER_SECONDS = 20;

export function createStoryService(deps: {
  em: Em; time: TimeFormatter; clock: Clock; logger: Logger; llm: LlmModule; streams: ModuleStreams; points: PointsWallet;
  realtime: NamespacePort<typeof chatServerEvents>; characters: CharacterService;
  model: string; pointsPerStory: number; maxSeconds: number; logTtlSeconds: number;
  onCharged?: (userId: string, balance: number, charged: number) => void;
  // A view counted (once per user per KST day): the module scores it.
  onViewed?: (storyId: string) => void;
}) {
  const { em, time } = deps;
  const kst = zoneCalendar('Asia/Seoul');

  const toDto = (r: Row): StoryDto => ({
    id: r.id, creatorId: r.creator_id, characterIds: r.character_ids, title: r.title, content: r.content, summary: r.summary, genres: r.genres,
    isPublic: r.is_public, isFeatured: r.is_featured, status: r.status, pointsCharged: r.points_charged, viewCount: r.view_count, likeCount: r.like_count,
    createdAt: time.format(new Date(r.created_at)), updatedAt: time.format(new Date(r.updated_at)),
  });

  const stories = deps.streams.define<StoryDone, StoryFailure>({
    name: 'story',
    logTtlSeconds: deps.logTtlSeconds,
    emit: (userId, e) => {
      if (e.type === 'delta') deps.realtime.emitToUser(userId, 'story.delta', { storyId: e.id, offset: e.offset, text: e.text });
      else if (e.type === 'done') deps.realtime.emitToUser(userId, 'story.done', e.payload);
      else deps.realtime.emitToUser(userId, 'story.error', e.payload);
    },
    failure: (storyId, f) => ({ storyId, code: f.code, message: f.message, offset: f.offset, pointsCharged: 0 }),
    onLost: async (storyId, lost) => {
      const [row] = await em.fork().execute<{ reservation_id: string | null }[]>(
        `update chat_stories set status = 'failed', error_code = 'answer_lost', content = ?, updated_at = now() where id = ? and status = 'streaming' returning reservation_id`,
        [lost.text, storyId],
      );
      if (!row) return false;
      if (row.reservation_id) await deps.points.release(row.reservation_id, 'Story lost with its server');
      return true;
    },
    candidates: async () => {
      const rows = await em.fork().execute<{ id: string; creator_id: string; content: string }[]>(
        `select id, creator_id, content from chat_stories where status = 'streaming' and created_at < now() - make_interval(secs => ?) limit 100`,
        [SWEEP_AFTER_SECONDS],
      );
      return rows.map((r) => ({ id: r.id, userId: r.creator_id, text: r.content }));
    },
  });

  async function row(db: Em, id: string): Promise<Row | undefined> {
    return (await db.execute<Row[]>(`select * from chat_stories where id = ? and deleted_at is null`, [id]))[0];
  }

  // A story `viewerId` may see: its creator's always; others' once public and complete.
  async function visible(db: Em, id: string, viewerId: string): Promise<Row> {
    const r = await row(db, id);
    if (!r || (r.creator_id !== viewerId && !(r.is_public && r.status === 'done'))) throw notFound('Story');
    return r;
  }

  async function castOf(userId: string, characterIds: string[]): Promise<Character[]> {
    const cast: Character[] = [];
    for (const [i, id] of characterIds.entries()) {
      cast.push(await deps.characters.forChat(id, userId).catch(() => {
        throw new AppError(400, 'unknown_character', `characterIds.${i}: no such character you may see`, { issues: [{ field: `characterIds.${i}`, message: 'no such character you may see' }] });
      }));
    }
    return cast;
  }

  async function create(userId: string, input: StoryInput): Promise<StoryDto> {
    await castOf(userId, input.characterIds);
    const [r] = await em.fork().execute<Row[]>(
      `insert into chat_stories (id, creator_id, character_ids, title, content, summary, genres, is_public) values (?, ?, ?::uuid[], ?, ?, ?, ?::text[], ?) returning *`,
      [crypto.randomUUID(), userId, pgArray(input.characterIds), input.title, input.content, input.summary ?? null, pgArray(input.genres), input.isPublic],
    );
    return toDto(r);
  }

  async function update(userId: string, id: string, input: StoryInput): Promise<StoryDto> {
    await castOf(userId, input.characterIds);
    const [r] = await em.fork().execute<Row[]>(
      `update chat_stories set title = ?, content = ?, summary = ?, character_ids = ?::uuid[], genres = ?::text[], is_public = ?, updated_at = now()
        where id = ? and creator_id = ? and deleted_at is null and status <> 'streaming' returning *`,
      [input.title, input.content, input.summary ?? null, pgArray(input.characterIds), pgArray(input.genres), input.isPublic, id, userId],
    );
    if (!r) throw notFound('Story');
    return toDto(r);
  }

  async function remove(userId: string, id: string): Promise<void> {
    const gone = await em.fork().execute(`update chat_stories set deleted_at = now() where id = ? and creator_id = ? and deleted_at is null returning id`, [id, userId]);
    if (gone.length === 0) throw notFound('Story');
  }

  async function setFeatured(id: string, featured: boolean): Promise<StoryDto> {
    const [r] = await em.fork().execute<Row[]>(`update chat_stories set is_featured = ?, updated_at = now() where id = ? and deleted_at is null returning *`, [featured, id]);
    if (!r) throw notFound('Story');
    return toDto(r);
  }

  // Reading a story counts one view per user per KST day (the creator's own reads do not count).
  async function read(viewerId: string, id: string): Promise<StoryDto> {
    return inTransaction(em.fork(), async (tx) => {
      const r = await visible(tx, id, viewerId);
      if (r.creator_id === viewerId) return toDto(r);
      const day = kst.localDate(deps.clock.now());
      const counted = await tx.execute(`insert into chat_story_views (story_id, user_id, day) values (?, ?, ?) on conflict do nothing returning story_id`, [id, viewerId, day]);
      if (counted.length === 0) return toDto(r);
      const [updated] = await tx.execute<Row[]>(`update chat_stories set view_count = view_count + 1 where id = ? returning *`, [id]);
      onCommitted(tx, () => deps.onViewed?.(id));
      return toDto(updated);
    });
  }

  async function list(viewerId: string, q: z.infer<typeof storyListQuery>, creatorId?: string): Promise<{ items: StoryDto[]; nextCursor: string | null }> {
    const where = [`deleted_at is null`];
    const params: unknown[] = [];
    if (creatorId) {
      where.push(`creator_id = ?`);
      params.push(creatorId);
      if (creatorId !== viewerId) where.push(`is_public`, `status = 'done'`);
    } else where.push(`is_public`, `status = 'done'`);
    if (q.genre) (where.push(`? = any(genres)`), params.push(q.genre));
    if (q.characterId) (where.push(`?::uuid = any(character_ids)`), params.push(q.characterId));
    if (q.featured !== undefined) (where.push(`is_featured = ?`), params.push(q.featured));
    if (q.cursor) {
      const c = listCursor.decode(q.cursor);
      where.push(`(created_at, id) < (?, ?)`);
      params.push(c.at, c.id);
    }
    const rows = await em.fork().execute<Row[]>(`select * from chat_stories where ${where.join(' and ')} order by created_at desc, id desc limit ?`, [...params, q.limit + 1]);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toDto), nextCursor: rows.length > q.limit && last ? listCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.id }) : null };
  }

  // Starts a generated story: the points are held (402 when they do not suffice, nothing stored),
  // the row is created streaming, and the text follows as story.delta … story.done.
  async function generate(userId: string, input: GenerateStoryInput): Promise<{ storyId: string; result: Promise<StoryDone> }> {
    stories.assertAccepting();
    const cast = await castOf(userId, input.characterIds);
    const storyId = crypto.randomUUID();
    const reservation = deps.pointsPerStory > 0
      ? await deps.points.reserve(userId, { amount: deps.pointsPerStory, idempotencyKey: `chat-story:${storyId}`, reference: { type: 'chat_story', id: storyId }, description: 'Story' })
      : null;
    const title = input.title ?? `${cast.map((c) => c.input.name).join(', ')}의 이야기`;
    try {
      await em.fork().execute(
        `insert into chat_stories (id, creator_id, character_ids, title, genres, prompt, is_public, status, reservation_id) values (?, ?, ?::uuid[], ?, ?::text[], ?, ?, 'streaming', ?)`,
        [storyId, userId, pgArray(input.characterIds), title, pgArray(input.genres), input.prompt, input.isPublic, reservation?.id ?? null],
      );
    } catch (err) {
      if (reservation) await deps.points.release(reservation.id, 'Story not stored').catch(() => undefined);
      throw err;
    }
    const messages = [
      {
        role: 'system' as const,
        content: [
          'You write short fiction in Korean, in prose, vivid and coherent, without markdown headings.',
          ...cast.map((c) => [`Character: ${c.input.name}`, c.input.description, c.input.personality && `Personality: ${c.input.personality}`, c.input.speechStyle && `Speech: ${c.input.speechStyle}`, c.input.worldSetting && `World: ${c.input.worldSetting}`].filter(Boolean).join('\n')),
          input.genres.length ? `Genres: ${input.genres.join(', ')}` : '',
        ].filter(Boolean).join('\n\n'),
      },
      { role: 'user' as const, content: `${title}\n\n${input.prompt}` },
    ];
    const result = stories.run(storyId, { userId, maxSeconds: deps.maxSeconds }, (stream) => write(stream, { userId, storyId, messages, maxTokens: MAX_TOKENS[input.length], reservationId: reservation?.id ?? null }));
    result.catch(() => undefined);
    return { storyId, result };
  }

  async function write(
    stream: RunningStream<StoryDone, StoryFailure>,
    s: { userId: string; storyId: string; messages: { role: 'system' | 'user'; content: string }[]; maxTokens: number; reservationId: string | null },
  ): Promise<StoryDone> {
    try {
      await new Promise((r) => setImmediate(r));
      const call = deps.llm.streamChat({ messages: s.messages, model: deps.model, maxTokens: s.maxTokens, temperature: 0.9, signal: stream.signal });
      for await (const text of call.stream) stream.append(text);
      const outcome = await call.result;
      const settled = s.reservationId ? await deps.points.settle(s.reservationId, deps.pointsPerStory, 'Story') : null;
      const charged = settled?.charged ?? 0;
      const balance = settled?.balanceAfter ?? (await deps.points.balance(s.userId)).balance;
      if (charged > 0) deps.onCharged?.(s.userId, balance, charged);
      let story!: StoryDto;
      const done = (): StoryDone => ({ story, usage: outcome.usage, pointsCharged: charged, balance });
      const [r] = await em.fork().execute<Row[]>(`select * from chat_stories where id = ?`, [s.storyId]);
      story = { ...toDto(r), content: outcome.text, status: 'done', pointsCharged: charged };
      await stream.finish(done(), async () => {
        await em.fork().execute(`update chat_stories set content = ?, status = 'done', points_charged = ?, updated_at = now() where id = ? and status = 'streaming'`, [outcome.text, charged, s.storyId]);
      });
      return done();
    } catch (err) {
      const partial = err instanceof LlmError ? err.partial?.text ?? '' : '';
      const aborted = stream.abortCode();
      const code = aborted === 'cancelled' ? 'cancelled' : aborted === 'timeout' ? 'story_timeout' : aborted === 'interrupted' ? 'answer_interrupted' : err instanceof AppError ? err.code : 'internal_error';
      const message = aborted ? `The story was ${aborted === 'cancelled' ? 'cancelled' : 'interrupted'}` : err instanceof AppError ? err.message : 'The story could not be completed';
      await stream.fail({ storyId: s.storyId, code, message, offset: stream.offset(), pointsCharged: 0 }, async () => {
        if (s.reservationId) await deps.points.release(s.reservationId, 'Story not completed');
        await em.fork().execute(`update chat_stories set content = ?, status = ?, error_code = ?, updated_at = now() where id = ? and status = 'streaming'`, [partial, aborted === 'cancelled' ? 'cancelled' : 'failed', code, s.storyId]);
      });
      if (!(err instanceof AppError) && !aborted) deps.logger.error({ err, storyId: s.storyId }, 'story generation failed');
      throw err instanceof AppError ? err : new AppError(500, 'internal_error', 'The story could not be completed');
    }
  }

  async function resume(userId: string, storyId: string, offset: number) {
    const r = await row(em.fork(), storyId);
    if (!r || r.creator_id !== userId) throw notFound('Story');
    const live = await stories.resume(storyId, offset);
    if (live) return { text: live.text, nextOffset: live.nextOffset, status: live.state, done: live.done, failure: live.failure };
    if (r.status === 'streaming') {
      const failure = await stories.declareLost(storyId, { userId, text: r.content });
      if (failure) return { text: '', nextOffset: offset, status: 'failed' as const, done: null, failure };
    }
    const fresh = (await row(em.fork(), storyId))!;
    const failure: StoryFailure | null = fresh.status === 'done' ? null : { storyId, code: 'story_failed', message: 'The story did not complete', offset: fresh.content.length, pointsCharged: 0 };
    const done: StoryDone | null = fresh.status === 'done' ? { story: toDto(fresh), usage: { promptTokens: 0, completionTokens: 0 }, pointsCharged: fresh.points_charged, balance: (await deps.points.balance(userId)).balance } : null;
    return { text: fresh.content.slice(offset), nextOffset: Math.max(offset, fresh.content.length), status: fresh.status, done, failure };
  }

  async function cancel(userId: string, storyId: string): Promise<void> {
    const r = await row(em.fork(), storyId);
    if (!r || r.creator_id !== userId) throw notFound('Story');
    if (r.status === 'streaming') stories.cancel(storyId);
  }

  // For the social service: who may see a story, and whose it is.
  async function resolve(storyId: string, viewerId: string): Promise<{ ownerId: string } | null> {
    const r = await visible(em.fork(), storyId, viewerId).catch(() => null);
    return r ? { ownerId: r.creator_id } : null;
  }

  return { create, update, remove, setFeatured, read, list, generate, resume, cancel, resolve };
}

export type StoryService = ReturnType<typeof createStoryService>;
