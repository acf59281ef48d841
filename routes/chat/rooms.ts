// Rooms and messages at the seed's paths: POST/GET /chat/rooms, GET /chat/rooms/:id/messages,
// POST /chat/messages (the whole reply; the /chat socket streams it), regenerate and edit of the
// last turn, and what a reply's prompt carried (GET /chat/messages/:id/context).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { ReplyService } from '../../services/chat/replies.ts';
import type { RoomService } from '../../services/chat/rooms.ts';
import { chatMessageDto, chatRoomDto, createRoomInput, replyDone, sendMessageInput } from '../../services/chat/schemas.ts';

const idParams = z.object({ id: z.uuid() });
const turnResult = z.object({ userMessage: chatMessageDto, reply: replyDone });

export function chatRoutes(api: Api, deps: { rooms: RoomService; replies: ReplyService }): void {
  api.route({
    method: 'post', path: '/chat/rooms', summary: "Open a room with a character you may see (its greeting is the first message)", tags: ['chat'], auth: 'user', body: createRoomInput,
    responses: { 201: { description: 'The room', schema: chatRoomDto }, 404: { description: 'No such character, or not one you may see' } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.rooms.create(auth.userId, body) }),
  });

  api.route({
    method: 'get', path: '/chat/rooms', summary: 'My rooms, most recently active first', tags: ['chat'], auth: 'user',
    query: z.object({ cursor: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(50).default(20) }),
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(chatRoomDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await deps.rooms.list(auth.userId, query) }),
  });

  api.route({
    method: 'get', path: '/chat/rooms/:id', summary: 'One of my rooms, with its affinity', tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The room', schema: chatRoomDto }, 404: { description: 'No such room of yours' } },
    handler: async ({ auth, params }) => ({ body: await deps.rooms.get(auth.userId, params.id) }),
  });

  api.route({
    method: 'get', path: '/chat/rooms/:id/messages', summary: 'Messages of my room: newest first by cursor, or everything after afterSeq (catching up after a reconnect)', tags: ['chat'],
    auth: 'user', params: idParams,
    query: z.object({
      cursor: z.string().max(300).optional(),
      afterSeq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(chatMessageDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, params, query }) => ({ body: await deps.rooms.messages(auth.userId, params.id, query) }),
  });

  api.route({
    method: 'post', path: '/chat/messages', summary: 'Send a message and wait for the whole reply (the /chat socket streams it instead)', tags: ['chat'], auth: 'user', body: sendMessageInput,
    responses: {
      200: { description: 'Your message and the reply, with usage, points charged and your balance', schema: turnResult },
      402: { description: 'insufficient_points: the reply would cost more than your balance; nothing was stored' },
      409: { description: 'reply_in_progress: this clientMessageId was taken and its reply is still being generated' },
    },
    handler: async ({ auth, body }) => {
      const sent = await deps.replies.send(auth.userId, body);
      return { body: { userMessage: sent.userMessage, reply: await sent.result } };
    },
  });

  api.route({
    method: 'post', path: '/chat/rooms/:id/regenerate', summary: "Generate the character's last reply again (the old one is kept, superseded)", tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The new reply', schema: turnResult }, 409: { description: 'The last message is not a finished reply' } },
    handler: async ({ auth, params }) => {
      const sent = await deps.replies.regenerate(auth.userId, params.id);
      return { body: { userMessage: sent.userMessage, reply: await sent.result } };
    },
  });

  api.route({
    method: 'put', path: '/chat/messages/:id', summary: 'Edit your last message: it and its reply are superseded, the edited message gets a new reply', tags: ['chat'], auth: 'user',
    params: idParams, body: z.object({ content: sendMessageInput.shape.content }),
    responses: { 200: { description: 'The edited message and its reply', schema: turnResult }, 409: { description: 'Not your last message' } },
    handler: async ({ auth, params, body }) => {
      const sent = await deps.replies.editLast(auth.userId, params.id, body.content);
      return { body: { userMessage: sent.userMessage, reply: await sent.result } };
    },
  });

  api.route({
    method: 'get', path: '/chat/messages/:id/context', summary: "What a reply's prompt carried: lorebook entries injected and why, affinity, memory", tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The context', schema: z.object({ messageId: z.uuid(), context: z.unknown() }) }, 404: { description: 'No such reply of yours' } },
    handler: async ({ auth, params }) => ({ body: await deps.replies.context(auth.userId, params.id) }),
  });
}
