// A message and the character's reply. The user message is stored once per clientMessageId; the
// reply is one of the platform's resumable streams (services/streams): generated on the node that
// took the message, logged with its offsets so a client that drops resumes on any node, closed once
// even if that node dies. Its price in points is held before generation (the most it can cost),
// settled to the actual cost when it completes, and released whole when it fails, is cancelled,
// or is lost with its node: a reply that did not complete costs nothing.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { AppError, conflict, notFound } from '../errors.ts';
import type { PointsWallet } from '../billing/points.ts';
import type { LlmModule } from '../llm/gateway.ts';
import { LlmError } from '../llm/errors.ts';
import { countChatTokens } from '../llm/tokens.ts';
import type { NamespacePort } from '../realtime.ts';
import type { ModuleStreams, RunningStream } from '../streams/resumableStreams.ts';
import { inTransaction, isUniqueViolation, type Em } from '../transaction.ts';
import type { Character, CharacterService } from './characters.ts';
import { assemblePrompt, NO_LORE, type MemoryMessage, type PlacedLore } from './prompt.ts';
import { affinityDelta, affinityStage, MESSAGE_COLUMNS, type MessageRow, type RoomRow, type RoomService } from './rooms.ts';
import type { ChatMessageDto, chatServerEvents, ReplyDone, ReplyFailure, SendMessageInput } from './schemas.ts';
import { pgArray } from '../pgArray.ts';

export type ReplyPricing = {
  mode: 'per_reply' | 'per_token';
  replyPoints: number;
  pointsPer1kTokens: number;
  modelPoints: Record<string, number>;
};

// What lore a reply's prompt carried, and why (GET /chat/messages/:id/context shows it).
export type LoreContext = { injected: unknown[]; skipped: unknown[]; tokens: number };
export type LoreScan = (input: { character: Character; room: RoomRow; recent: MemoryMessage[] }) => Promise<{ lore: PlacedLore; context: LoreContext; state: Record<string, unknown> }>;

export type ReplyDeps = {
  em: Em;
  llm: LlmModule;
  streams: ModuleStreams;
  points: PointsWallet;
  realtime: NamespacePort<typeof chatServerEvents>;
  rooms: RoomService;
  characters: CharacterService;
  logger: Logger;
  defaultModel: string;
  pricing: ReplyPricing;
  maxReplySeconds: number;
  logTtlSeconds: number;
  scanLore?: LoreScan;
  // After points were charged (the wallet's balance after it): the module may warn of a low balance.
  onCharged?: (userId: string, balance: number, charged: number) => void;
  // After a reply completes: the room's older messages may need summarising (in the background).
  onReplied?: (roomId: string, character: Character) => void;
};

export type SentMessage = { userMessage: ChatMessageDto; replyId: string; replayed: boolean; result: Promise<ReplyDone> };

// Reply streams are named `<roomId>:<messageId>`, so every event (even one the platform emits for a
// reply whose node died) says which room it belongs to.
const streamId = (roomId: string, messageId: string) => `${roomId}:${messageId}`;
const splitId = (id: string) => {
  const [roomId, messageId] = id.split(':');
  return { roomId, messageId };
};

// Replies a dead node left streaming are swept once this old (younger ones may still be taking their lease).
const SWEEP_AFTER_SECONDS = 20;

export function createReplyService(deps: ReplyDeps) {
  const { em, rooms } = deps;
  const emit = deps.realtime.emitToUser;
  // Replies generating on this node, for REST callers that retry while one is running.
  const running = new Map<string, Promise<ReplyDone>>();

  const replies = deps.streams.define<ReplyDone, ReplyFailure>({
    name: 'reply',
    logTtlSeconds: deps.logTtlSeconds,
    emit: (userId, event) => {
      const { roomId, messageId } = splitId(event.id);
      if (event.type === 'delta') emit(userId, 'message.delta', { messageId, roomId, offset: event.offset, text: event.text });
      else if (event.type === 'done') emit(userId, 'message.done', event.payload);
      else emit(userId, 'message.error', event.payload);
    },
    failure: (id, f) => ({ ...splitId(id), code: f.code, message: f.message, offset: f.offset, pointsCharged: 0 }),
    onLost: (id, lost) => closeLost(splitId(id).messageId, lost.text),
    candidates: async () => {
      const rows = await em.fork().execute<{ room_id: string; id: string; user_id: string; content: string }[]>(
        `select m.room_id, m.id, r.user_id, m.content from chat_messages m join chat_rooms r on r.id = m.room_id
          where m.status = 'streaming' and m.created_at < now() - make_interval(secs => ?) order by m.created_at limit 100`,
        [SWEEP_AFTER_SECONDS],
      );
      return rows.map((r) => ({ id: streamId(r.room_id, r.id), userId: r.user_id, text: r.content }));
    },
  });

  // A reply whose node died: closed with what it had generated, its points released, once.
  async function closeLost(messageId: string, text: string): Promise<boolean> {
    const [row] = await em.fork().execute<{ reservation_id: string | null }[]>(
      `update chat_messages set status = 'failed', error_code = 'answer_lost', content = ?, finished_at = now() where id = ? and status = 'streaming' returning reservation_id`,
      [text, messageId],
    );
    if (!row) return false;
    if (row.reservation_id) await deps.points.release(row.reservation_id, 'Reply lost with its server');
    return true;
  }

  function modelOf(character: Character): string {
    return character.settings.aiModel ?? deps.defaultModel;
  }

  // The most a reply can cost (held before it starts), and what it cost once it is done.
  function price(model: string, tokens: number): number {
    const p = deps.pricing;
    const rate = p.modelPoints[model] ?? (p.mode === 'per_reply' ? p.replyPoints : p.pointsPer1kTokens);
    return p.mode === 'per_reply' ? rate : Math.ceil((tokens * rate) / 1000);
  }

  async function recentMessages(db: Em, room: RoomRow, limit: number, except: string[]): Promise<MemoryMessage[]> {
    if (limit === 0) return [];
    const rows = await db.execute<{ seq: string; sender_type: 'user' | 'character'; content: string }[]>(
      `select seq, sender_type, content from (
         select seq, sender_type, content from chat_messages
          where room_id = ? and superseded_at is null and status = 'done' and content <> '' and id <> all(?::uuid[])
          order by seq desc limit ?) m order by seq`,
      [room.id, pgArray(except), limit],
    );
    return rows.map((r) => ({ senderType: r.sender_type, content: r.content, seq: Number(r.seq) }));
  }

  async function findSent(db: Em, roomId: string, clientMessageId: string): Promise<{ user: MessageRow; reply: MessageRow | undefined } | null> {
    const [user] = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where room_id = ? and client_message_id = ?`, [roomId, clientMessageId]);
    if (!user) return null;
    const [reply] = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where reply_to = ? order by seq desc limit 1`, [user.id]);
    return { user, reply };
  }

  // A resend of a message already taken: nothing is stored or generated again.
  function replay(userId: string, sent: { user: MessageRow; reply: MessageRow | undefined }): SentMessage {
    const reply = sent.reply;
    if (!reply) throw conflict('reply_missing', 'This message was stored without a reply; send it again with a new clientMessageId');
    const result = running.get(reply.id) ?? (reply.status === 'streaming'
      ? Promise.reject(conflict('reply_in_progress', 'The reply to this message is still being generated; resume it by its message id'))
      : finishedResult(userId, reply));
    result.catch(() => undefined);
    return { userMessage: rooms.toMessage(sent.user), replyId: reply.id, replayed: true, result };
  }

  async function finishedResult(userId: string, reply: MessageRow): Promise<ReplyDone> {
    if (reply.status !== 'done') throw new AppError(409, reply.error_code ?? 'reply_failed', 'This reply did not complete', { extra: { messageId: reply.id } });
    const usage = ((reply as MessageRow & { usage?: ReplyDone['usage'] }).usage) ?? { promptTokens: 0, completionTokens: 0 };
    const room = await rooms.roomRow(em.fork(), userId, reply.room_id);
    return { message: rooms.toMessage(reply), usage, pointsCharged: reply.points_charged, balance: (await deps.points.balance(userId)).balance, affinity: rooms.toRoom(room).affinity };
  }

  async function send(userId: string, input: SendMessageInput): Promise<SentMessage> {
    replies.assertAccepting();
    const db = em.fork();
    const room = await rooms.roomRow(db, userId, input.roomId);
    const already = await findSent(db, room.id, input.clientMessageId);
    if (already) return replay(userId, already);
    const character = await deps.characters.forChat(room.character_id, userId);
    return startTurn(userId, room, character, { content: input.content, clientMessageId: input.clientMessageId, holdKey: `chat-reply:${room.id}:${input.clientMessageId}` });
  }

  // Everything a reply's prompt is made of, from the room and its character: memory (the last
  // memoryLength current messages and the summary), the affinity after this message, the lorebook
  // scan, the assembled messages, the model, and the most the reply can cost.
  async function preparePrompt(room: RoomRow, character: Character, turn: { content: string; replyTo?: MessageRow; supersede?: string[] }) {
    const s = character.settings;
    // The turn being replaced (a regenerate or an edit) is not part of its replacement's memory.
    const earlier = await recentMessages(em.fork(), room, s.useMemory ? s.memoryLength : 0, turn.supersede ?? []);
    const memory: MemoryMessage[] = turn.replyTo ? earlier : [...earlier, { senderType: 'user', content: turn.content, seq: room.message_count + 1 }];
    const delta = character.input.hasAffinitySystem && !turn.replyTo ? affinityDelta(turn.content, character.input.affinityRules) : 0;
    const score = room.affinity + delta;
    const affinity = character.input.hasAffinitySystem ? { score, stage: affinityStage(score, character.input.affinityStages) } : null;
    const scan = deps.scanLore ? await deps.scanLore({ character, room, recent: memory }) : { lore: NO_LORE, context: { injected: [], skipped: [], tokens: 0 }, state: room.lorebook_state };
    const messages = assemblePrompt({ character, lore: scan.lore, affinity, summary: room.summary, recent: memory });
    const model = modelOf(character);
    return { memory, delta, affinity, scan, messages, model, hold: price(model, countChatTokens(messages) + s.maxTokens) };
  }

  // Stores the user message (unless `replyTo` names one already stored: a regenerate) and the reply
  // row, holds the points, and starts the reply.
  async function startTurn(
    userId: string, room: RoomRow, character: Character,
    turn: { content: string; clientMessageId?: string; replyTo?: MessageRow; holdKey: string; supersede?: string[] },
  ): Promise<SentMessage> {
    const { memory, delta, affinity, scan, messages, model, hold } = await preparePrompt(room, character, turn);
    const userMessageId = turn.replyTo?.id ?? crypto.randomUUID();
    const replyId = crypto.randomUUID();
    // Too few points: refused here, before anything is stored or generated.
    const reservation = hold > 0
      ? await deps.points.reserve(userId, { amount: hold, idempotencyKey: turn.holdKey, reference: { type: 'chat_room', id: room.id }, description: `Reply in ${room.title}` })
      : null;

    let stored: { user: MessageRow; reply: MessageRow };
    try {
      stored = await inTransaction(em.fork(), async (tx) => {
        const [locked] = await tx.execute<{ message_count: number }[]>(`select message_count from chat_rooms where id = ? for update`, [room.id]);
        let seq = locked.message_count;
        if (turn.supersede?.length) await tx.execute(`update chat_messages set superseded_at = now() where id = any(?::uuid[]) and superseded_at is null`, [pgArray(turn.supersede)]);
        let user: MessageRow;
        if (turn.replyTo) user = turn.replyTo;
        else {
          [user] = await tx.execute<MessageRow[]>(
            `insert into chat_messages (id, room_id, seq, sender_type, content, status, client_message_id, affinity_delta) values (?, ?, ?, 'user', ?, 'done', ?, ?) returning ${MESSAGE_COLUMNS}`,
            [userMessageId, room.id, ++seq, turn.content, turn.clientMessageId ?? null, delta],
          );
        }
        const context = { lore: scan.context, affinity, memory: { recent: memory.length, summarisedThrough: Number(room.summary_through) }, model, hold };
        const [reply] = await tx.execute<MessageRow[]>(
          `insert into chat_messages (id, room_id, seq, sender_type, content, status, reply_to, context, model, reservation_id) values (?, ?, ?, 'character', '', 'streaming', ?, ?, ?, ?) returning ${MESSAGE_COLUMNS}`,
          [replyId, room.id, ++seq, user.id, JSON.stringify(context), model, reservation?.id ?? null],
        );
        await tx.execute(`update chat_rooms set message_count = ?, last_message_at = now(), affinity = ?, lorebook_state = ? where id = ?`, [seq, affinity?.score ?? room.affinity, JSON.stringify(scan.state), room.id]);
        return { user, reply };
      });
    } catch (err) {
      if (turn.clientMessageId && isUniqueViolation(err)) {
        // The same message, sent twice at once: the other request stored it and holds these points.
        const sent = await findSent(em.fork(), room.id, turn.clientMessageId);
        if (sent) return replay(userId, sent);
      }
      if (reservation) await deps.points.release(reservation.id, 'Message not stored').catch(() => undefined);
      throw err;
    }
    if (!turn.replyTo) emit(userId, 'message.created', rooms.toMessage(stored.user));
    const result = replies.run(streamId(room.id, replyId), { userId, maxSeconds: deps.maxReplySeconds }, (stream) =>
      generate(stream, { userId, room, character, messages, model, reply: stored.reply, reservationId: reservation?.id ?? null, affinity }),
    );
    running.set(replyId, result);
    result.catch(() => undefined).finally(() => running.delete(replyId));
    return { userMessage: rooms.toMessage(stored.user), replyId, replayed: false, result };
  }

  async function generate(
    stream: RunningStream<ReplyDone, ReplyFailure>,
    t: { userId: string; room: RoomRow; character: Character; messages: ReturnType<typeof assemblePrompt>; model: string; reply: MessageRow; reservationId: string | null; affinity: ReplyDone['affinity'] },
  ): Promise<ReplyDone> {
    const s = t.character.settings;
    try {
      // Let the ack with the reply's id leave before the first delta.
      await new Promise((r) => setImmediate(r));
      const call = deps.llm.streamChat({ messages: t.messages, model: t.model, maxTokens: s.maxTokens, temperature: s.temperature, signal: stream.signal });
      for await (const text of call.stream) stream.append(text);
      const outcome = await call.result;
      const cost = price(outcome.model, outcome.usage.promptTokens + outcome.usage.completionTokens);
      const settled = t.reservationId ? await deps.points.settle(t.reservationId, cost, `Reply in ${t.room.title}`) : null;
      const charged = settled?.charged ?? 0;
      const balance = settled?.balanceAfter ?? (await deps.points.balance(t.userId)).balance;
      if (charged > 0) deps.onCharged?.(t.userId, balance, charged);
      const message: ChatMessageDto = { ...rooms.toMessage(t.reply), content: outcome.text, status: 'done', pointsCharged: charged };
      const done: ReplyDone = { message, usage: outcome.usage, pointsCharged: charged, balance, affinity: t.affinity };
      await stream.finish(done, async () => {
        await em.fork().execute(
          `update chat_messages set content = ?, status = 'done', usage = ?, model = ?, provider = ?, points_charged = ?, finished_at = now() where id = ? and status = 'streaming'`,
          [outcome.text, JSON.stringify(outcome.usage), outcome.model, outcome.provider, charged, t.reply.id],
        );
      });
      deps.onReplied?.(t.room.id, t.character);
      return done;
    } catch (err) {
      const partial = err instanceof LlmError ? err.partial?.text ?? '' : '';
      const aborted = stream.abortCode();
      const code = aborted === 'cancelled' ? 'cancelled' : aborted === 'timeout' ? 'reply_timeout' : aborted === 'interrupted' ? 'answer_interrupted' : err instanceof AppError ? err.code : 'internal_error';
      const message = aborted === 'interrupted' ? 'The server shut down before the reply was complete; send it again (no points were charged)'
        : aborted === 'cancelled' ? 'The reply was cancelled' : aborted === 'timeout' ? 'The reply took too long' : err instanceof AppError ? err.message : 'The reply could not be completed';
      const failure: ReplyFailure = { messageId: t.reply.id, roomId: t.room.id, code, message, offset: stream.offset(), pointsCharged: 0 };
      await stream.fail(failure, async () => {
        if (t.reservationId) await deps.points.release(t.reservationId, aborted === 'cancelled' ? 'Reply cancelled' : 'Reply failed');
        await em.fork().execute(
          `update chat_messages set content = ?, status = ?, error_code = ?, finished_at = now() where id = ? and status = 'streaming'`,
          [partial, aborted === 'cancelled' ? 'cancelled' : 'failed', code, t.reply.id],
        );
      });
      if (!(err instanceof AppError) && !aborted) deps.logger.error({ err, messageId: t.reply.id }, 'chat reply failed');
      if (aborted === 'interrupted') throw new AppError(503, 'answer_interrupted', message, { extra: { messageId: t.reply.id, retryAfter: 1 } });
      throw err instanceof AppError ? err : new AppError(500, 'internal_error', 'The reply could not be completed');
    }
  }

  // The character's last reply in the room, generated again (the old one is kept, superseded).
  async function regenerate(userId: string, roomId: string): Promise<SentMessage> {
    replies.assertAccepting();
    const db = em.fork();
    const room = await rooms.roomRow(db, userId, roomId);
    const [last] = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where room_id = ? and superseded_at is null order by seq desc limit 1`, [room.id]);
    if (!last || last.sender_type !== 'character' || !last.reply_to) throw conflict('nothing_to_regenerate', 'The last message of this room is not a reply to regenerate');
    if (last.status === 'streaming') throw conflict('reply_in_progress', 'The last reply is still being generated; cancel it first');
    const [userMessage] = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where id = ?`, [last.reply_to]);
    const character = await deps.characters.forChat(room.character_id, userId);
    return startTurn(userId, room, character, { content: userMessage.content, replyTo: userMessage, holdKey: `chat-regenerate:${last.id}`, supersede: [last.id] });
  }

  // The last user message, edited: it and its reply are superseded, the edited one gets a new reply.
  async function editLast(userId: string, messageId: string, content: string): Promise<SentMessage> {
    replies.assertAccepting();
    const { message, room } = await rooms.message(userId, messageId);
    if (message.sender_type !== 'user') throw conflict('not_editable', 'Only your own messages can be edited');
    const db = em.fork();
    const later = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where room_id = ? and seq > ? and superseded_at is null order by seq`, [room.id, message.seq]);
    if (later.some((m) => m.sender_type === 'user' || m.reply_to !== message.id)) throw conflict('not_last_turn', 'Only the last turn of a room can be edited');
    if (later.some((m) => m.status === 'streaming')) throw conflict('reply_in_progress', 'The reply is still being generated; cancel it first');
    const character = await deps.characters.forChat(room.character_id, userId);
    const editId = `edit-${crypto.createHash('sha256').update(`${message.id}:${content}`).digest('hex').slice(0, 40)}`;
    return startTurn(userId, room, character, { content, clientMessageId: editId, holdKey: `chat-edit:${room.id}:${editId}`, supersede: [message.id, ...later.map((m) => m.id)] });
  }

  async function cancel(userId: string, messageId: string): Promise<void> {
    const { message, room } = await rooms.message(userId, messageId);
    if (message.status === 'streaming') replies.cancel(streamId(room.id, message.id));
  }

  // The rest of a reply from `offset`, on any node; after the log expires, from the stored row.
  async function resume(userId: string, messageId: string, offset: number) {
    const { message, room } = await rooms.message(userId, messageId);
    if (message.sender_type !== 'character') throw notFound('Reply');
    const id = streamId(room.id, message.id);
    const live = await replies.resume(id, offset);
    if (live) return { roomId: room.id, text: live.text, nextOffset: live.nextOffset, status: live.state, done: live.done, failure: live.failure };
    if (message.status === 'streaming') {
      const failure = await replies.declareLost(id, { userId, text: message.content });
      if (failure) return { roomId: room.id, text: '', nextOffset: offset, status: 'failed' as const, done: null, failure };
    }
    const [row] = await em.fork().execute<(MessageRow & { usage: ReplyDone['usage'] | null })[]>(`select ${MESSAGE_COLUMNS}, usage from chat_messages where id = ?`, [message.id]);
    const text = row.content.slice(offset);
    const nextOffset = Math.max(offset, row.content.length);
    if (row.status === 'done') return { roomId: room.id, text, nextOffset, status: 'done' as const, done: await finishedResult(userId, row), failure: null };
    const failure: ReplyFailure = { messageId: row.id, roomId: room.id, code: row.error_code ?? 'reply_failed', message: 'The reply did not complete', offset: row.content.length, pointsCharged: 0 };
    return { roomId: room.id, text, nextOffset, status: row.status, done: null, failure };
  }

  // What the reply's prompt carried: lore injected and why, the affinity stage, the memory used.
  async function context(userId: string, messageId: string) {
    const { message } = await rooms.message(userId, messageId);
    if (message.sender_type !== 'character') throw notFound('Reply');
    return { messageId: message.id, context: message.context ?? null };
  }

  return { send, regenerate, editLast, cancel, resume, context, preparePrompt, runningCount: replies.runningCount };
}

export type ReplyService = ReturnType<typeof createReplyService>;
