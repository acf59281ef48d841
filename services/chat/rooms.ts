// Rooms (a user's conversation with a character) and their messages. A room is its user's alone:
// anyone else gets 404. Messages are ordered by seq, so a client that reconnects asks for what
// came after the last seq it holds.
import crypto from 'node:crypto';
import { z } from 'zod';
import { cursorCodec } from '../cursor.ts';
import { notFound } from '../errors.ts';
import { clientInstant, type TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { CharacterService } from './characters.ts';
import type { ChatMessageDto, ChatRoomDto, CharacterInput } from './schemas.ts';

export type RoomRow = {
  id: string; user_id: string; character_id: string; title: string; message_count: number; affinity: number; lorebook_state: Record<string, unknown>;
  summary: string; summary_through: string; last_message_at: Date | null; created_at: Date; character_name: string;
  has_affinity_system: boolean; affinity_stages: CharacterInput['affinityStages'];
};

export type MessageRow = {
  id: string; room_id: string; seq: string; sender_type: 'user' | 'character'; content: string; status: ChatMessageDto['status'];
  client_message_id: string | null; reply_to: string | null; points_charged: number; error_code: string | null; superseded_at: Date | null;
  created_at: Date; context: unknown; reservation_id: string | null;
};

const ROOM_COLUMNS = `r.id, r.user_id, r.character_id, r.title, r.message_count, r.affinity, r.lorebook_state, r.summary, r.summary_through,
  r.last_message_at, r.created_at, c.name as character_name, c.has_affinity_system, c.affinity_stages`;
export const MESSAGE_COLUMNS = `id, room_id, seq, sender_type, content, status, client_message_id, reply_to, points_charged, error_code, superseded_at, created_at, context, reservation_id`;

const roomsCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));
const messagesCursor = cursorCodec(z.object({ before: z.number().int().min(1) }));

// The highest stage whose threshold the score has reached.
export function affinityStage(score: number, stages: CharacterInput['affinityStages']): string | null {
  let stage: string | null = null;
  let best = -Infinity;
  for (const s of stages) if (s.minScore <= score && s.minScore >= best) [stage, best] = [s.name, s.minScore];
  return stage;
}

// How much a user message moves the affinity: every rule whose trigger it contains counts once.
export function affinityDelta(content: string, rules: CharacterInput['affinityRules']): number {
  const text = content.toLowerCase();
  return rules.reduce((sum, r) => (text.includes(r.trigger.toLowerCase()) ? sum + r.delta : sum), 0);
}

export function createRoomService(deps: { em: Em; time: TimeFormatter; characters: CharacterService }) {
  const { em, time } = deps;

  const toRoom = (r: RoomRow): ChatRoomDto => ({
    id: r.id,
    characterId: r.character_id,
    characterName: r.character_name,
    title: r.title,
    messageCount: r.message_count,
    affinity: r.has_affinity_system ? { score: r.affinity, stage: affinityStage(r.affinity, r.affinity_stages) } : null,
    lastMessageAt: r.last_message_at ? time.format(new Date(r.last_message_at)) : null,
    createdAt: time.format(new Date(r.created_at)),
  });

  const toMessage = (m: MessageRow): ChatMessageDto => ({
    id: m.id,
    roomId: m.room_id,
    seq: Number(m.seq),
    senderType: m.sender_type,
    content: m.content,
    status: m.status,
    clientMessageId: m.client_message_id,
    replyTo: m.reply_to,
    pointsCharged: m.points_charged,
    errorCode: m.error_code,
    superseded: m.superseded_at !== null,
    createdAt: time.format(new Date(m.created_at)),
  });

  async function roomRow(db: Em, userId: string, roomId: string, lock = false): Promise<RoomRow> {
    const [row] = await db.execute<RoomRow[]>(
      `select ${ROOM_COLUMNS} from chat_rooms r join chat_characters c on c.id = r.character_id where r.id = ? and r.deleted_at is null${lock ? ' for update of r' : ''}`,
      [roomId],
    );
    if (!row || row.user_id !== userId) throw notFound('Room');
    return row;
  }

  // A room with a character the user may see; the character's greeting opens it.
  async function create(userId: string, input: { characterId: string; title?: string }): Promise<ChatRoomDto> {
    const character = await deps.characters.forChat(input.characterId, userId);
    const id = crypto.randomUUID();
    await inTransaction(em.fork(), async (tx) => {
      const greeting = character.input.greeting;
      await tx.execute(
        `insert into chat_rooms (id, user_id, character_id, title, message_count, last_message_at) values (?, ?, ?, ?, ?, ?)`,
        [id, userId, character.id, input.title ?? character.input.name, greeting ? 1 : 0, greeting ? new Date() : null],
      );
      if (greeting) {
        await tx.execute(`insert into chat_messages (id, room_id, seq, sender_type, content, status) values (?, ?, 1, 'character', ?, 'done')`, [crypto.randomUUID(), id, greeting]);
      }
      await tx.execute(`update chat_characters set chat_count = chat_count + 1 where id = ?`, [character.id]);
    });
    return get(userId, id);
  }

  async function get(userId: string, roomId: string): Promise<ChatRoomDto> {
    return toRoom(await roomRow(em.fork(), userId, roomId));
  }

  async function list(userId: string, q: { cursor?: string; limit: number }): Promise<{ items: ChatRoomDto[]; nextCursor: string | null }> {
    const after = q.cursor ? roomsCursor.decode(q.cursor) : undefined;
    // Most recently active first; a room without messages sorts by its creation.
    const rows = await em.fork().execute<(RoomRow & { active_at: Date })[]>(
      `select ${ROOM_COLUMNS}, coalesce(r.last_message_at, r.created_at) as active_at
         from chat_rooms r join chat_characters c on c.id = r.character_id
        where r.user_id = ? and r.deleted_at is null
          and (?::timestamptz is null or (coalesce(r.last_message_at, r.created_at), r.id) < (?::timestamptz, ?::uuid))
        order by active_at desc, r.id desc limit ?`,
      [userId, after?.at ?? null, after?.at ?? null, after?.id ?? null, q.limit + 1],
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toRoom), nextCursor: rows.length > q.limit && last ? roomsCursor.encode({ at: new Date(last.active_at).toISOString(), id: last.id }) : null };
  }

  // Newest first by cursor, or — for a client catching up — everything after `afterSeq`, oldest first.
  async function messages(userId: string, roomId: string, q: { cursor?: string; afterSeq?: number; limit: number }): Promise<{ items: ChatMessageDto[]; nextCursor: string | null }> {
    await roomRow(em.fork(), userId, roomId);
    if (q.afterSeq !== undefined) {
      const rows = await em.fork().execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where room_id = ? and seq > ? order by seq limit ?`, [roomId, q.afterSeq, q.limit]);
      return { items: rows.map(toMessage), nextCursor: null };
    }
    const before = q.cursor ? messagesCursor.decode(q.cursor).before : null;
    const rows = await em.fork().execute<MessageRow[]>(
      `select ${MESSAGE_COLUMNS} from chat_messages where room_id = ? and (?::bigint is null or seq < ?::bigint) order by seq desc limit ?`,
      [roomId, before, before, q.limit + 1],
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toMessage), nextCursor: rows.length > q.limit && last ? messagesCursor.encode({ before: Number(last.seq) }) : null };
  }

  async function message(userId: string, messageId: string): Promise<{ message: MessageRow; room: RoomRow }> {
    const db = em.fork();
    const [m] = await db.execute<MessageRow[]>(`select ${MESSAGE_COLUMNS} from chat_messages where id = ?`, [messageId]);
    if (!m) throw notFound('Message');
    const room = await roomRow(db, userId, m.room_id).catch(() => {
      throw notFound('Message');
    });
    return { message: m, room };
  }

  return { create, get, list, messages, message, roomRow, toRoom, toMessage };
}

export type RoomService = ReturnType<typeof createRoomService>;
