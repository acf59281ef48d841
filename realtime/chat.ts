// /chat: a room's conversation, streamed.
//   room.join {roomId, afterSeq?}      → ack { room, missed: messages after afterSeq } (your rooms only)
//   message.send {roomId, content, clientMessageId} → ack { userMessage, replyId, replayed }, then
//     message.delta {messageId, roomId, offset, text} … message.done {message, usage, pointsCharged, balance}
//     (or message.error {messageId, roomId, code, message, offset}); replies go to every socket of yours.
//   message.resume {messageId, offset} → the rest, then message.done / message.error, to this socket
//   message.cancel {messageId}; typing {roomId, typing} → typing.indicator on your other sockets
// A resend with the same clientMessageId stores nothing new and generates nothing new.
import { z } from 'zod';
import type { ReplyService } from '../services/chat/replies.ts';
import type { RoomService } from '../services/chat/rooms.ts';
import { generateStoryInput, type StoryService } from '../services/chat/stories.ts';
import { sendMessageInput } from '../services/chat/schemas.ts';
import { unavailable } from '../services/errors.ts';
import { defineClientEvent, type ClientEvent } from './events.ts';

const messageRef = z.object({ messageId: z.uuid() });

export function chatEvents(opts: { services: () => { rooms: RoomService; replies: ReplyService; stories: StoryService } | undefined }): ClientEvent<z.ZodType>[] {
  const services = () => {
    const s = opts.services();
    if (!s) throw unavailable('not_ready', 'The chat is not available on this node');
    return s;
  };

  const join = defineClientEvent({
    event: 'room.join',
    summary: 'Open one of your rooms on this socket; the ack carries the room and every message after afterSeq (what you missed)',
    schema: z.object({ roomId: z.uuid(), afterSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
    handler: async ({ roomId, afterSeq }, { auth, socket }) => {
      const { rooms } = services();
      const room = await rooms.get(auth.userId, roomId);
      await socket.join(`room:${roomId}`);
      const missed = afterSeq === undefined ? [] : (await rooms.messages(auth.userId, roomId, { afterSeq, limit: 200 })).items;
      return { room, missed };
    },
  });

  const send = defineClientEvent({
    event: 'message.send',
    summary: 'Send a message; the ack carries your stored message and the reply id, the reply follows as message.delta … message.done',
    schema: sendMessageInput,
    handler: async (payload, { auth }) => {
      const sent = await services().replies.send(auth.userId, payload);
      return { userMessage: sent.userMessage, replyId: sent.replyId, replayed: sent.replayed };
    },
  });

  const resume = defineClientEvent({
    event: 'message.resume',
    summary: 'Get the rest of a reply from `offset` (the length you hold), on any node; then message.done or message.error if it has ended',
    schema: messageRef.extend({ offset: z.number().int().min(0).max(1_000_000) }),
    handler: async ({ messageId, offset }, { auth, socket }) => {
      const r = await services().replies.resume(auth.userId, messageId, offset);
      setImmediate(() => {
        if (r.text) socket.emit('message.delta', { messageId, roomId: r.roomId, offset, text: r.text });
        if (r.done) socket.emit('message.done', r.done);
        else if (r.failure) socket.emit('message.error', r.failure);
      });
      return { messageId, nextOffset: r.nextOffset, status: r.status };
    },
  });

  const cancel = defineClientEvent({
    event: 'message.cancel',
    summary: 'Stop a reply being generated (on whichever node runs it); its points are released',
    schema: messageRef,
    handler: async ({ messageId }, { auth }) => {
      await services().replies.cancel(auth.userId, messageId);
      return { messageId };
    },
  });

  const typing = defineClientEvent({
    event: 'typing',
    summary: 'Tell your other devices you are typing in a room',
    schema: z.object({ roomId: z.uuid(), typing: z.boolean() }),
    handler: async ({ roomId, typing: on }, { auth, socket }) => {
      await services().rooms.get(auth.userId, roomId);
      socket.to(`user:${auth.userId}`).emit('typing.indicator', { roomId, typing: on });
    },
  });

  const storyGenerate = defineClientEvent({
    event: 'story.generate',
    summary: 'Generate a story; the ack carries the storyId, the text follows as story.delta … story.done (points held, settled, released on failure)',
    schema: generateStoryInput,
    handler: async (payload, { auth }) => ({ storyId: (await services().stories.generate(auth.userId, payload)).storyId }),
  });

  const storyResume = defineClientEvent({
    event: 'story.resume',
    summary: 'Get the rest of a story being generated from `offset`, on any node; then story.done or story.error if it has ended',
    schema: z.object({ storyId: z.uuid(), offset: z.number().int().min(0).max(1_000_000) }),
    handler: async ({ storyId, offset }, { auth, socket }) => {
      const r = await services().stories.resume(auth.userId, storyId, offset);
      setImmediate(() => {
        if (r.text) socket.emit('story.delta', { storyId, offset, text: r.text });
        if (r.done) socket.emit('story.done', r.done);
        else if (r.failure) socket.emit('story.error', r.failure);
      });
      return { storyId, nextOffset: r.nextOffset, status: r.status };
    },
  });

  const storyCancel = defineClientEvent({
    event: 'story.cancel',
    summary: 'Stop a story being generated; its points are released',
    schema: z.object({ storyId: z.uuid() }),
    handler: async ({ storyId }, { auth }) => {
      await services().stories.cancel(auth.userId, storyId);
      return { storyId };
    },
  });

  return [join, send, resume, cancel, typing, storyGenerate, storyResume, storyCancel];
}
