// /coach: ask and receive the answer as it is generated.
//   ask {question, game, category?, tags?}  → ack { ok, answerId } at once, then
//   answer.delta {answerId, offset, text} … answer.done {answerId, sources, usage, costUsd, cached, planRemaining, length}
//   (or answer.error {answerId, code, message, offset}).
// Deltas go to every socket of the user on every node. A client applies a delta whose offset equals
// the length it holds; if one arrives beyond it (it missed some), or after a reconnect, it sends
// answer.resume {answerId, offset: its length} and receives the rest (then answer.done). Treat
// answer.done as idempotent: after a resume it can arrive twice.
import { z } from 'zod';
import { unavailable } from '../services/errors.ts';
import type { AskService } from '../services/coach/ask.ts';
import { askInput, cancelInput, resumeInput } from '../services/coach/schemas.ts';
import { defineClientEvent, type ClientEvent } from './events.ts';

export function coachEvents(opts: { ask: () => AskService | undefined }): ClientEvent<z.ZodType>[] {
  const service = () => {
    const s = opts.ask();
    if (!s) throw unavailable('not_ready', 'The coach is not available on this node');
    return s;
  };

  const ask = defineClientEvent({
    event: 'ask',
    summary: 'Ask the coach. The ack carries the answerId; the answer follows as answer.delta events and answer.done.',
    schema: askInput,
    handler: async (payload, { auth }) => {
      const started = await service().start(auth.userId, payload);
      return { answerId: started.answerId };
    },
  });

  const resume = defineClientEvent({
    event: 'answer.resume',
    summary: 'Get the rest of an answer from `offset` (the length already received), on any node; then answer.done or answer.error if it has ended.',
    schema: resumeInput,
    handler: async (payload, { auth, socket }) => {
      const r = await service().resume(auth.userId, payload.answerId, payload.offset);
      // Sent after the ack, to this socket only; live deltas keep arriving through the user's room.
      setImmediate(() => {
        if (r.text) socket.emit('answer.delta', { answerId: payload.answerId, offset: payload.offset, text: r.text });
        if (r.done) socket.emit('answer.done', r.done);
        else if (r.failure) socket.emit('answer.error', r.failure);
      });
      return { answerId: payload.answerId, nextOffset: r.nextOffset, status: r.status };
    },
  });

  const cancel = defineClientEvent({
    event: 'cancel',
    summary: 'Stop an answer being generated (on whichever node runs it); the upstream LLM request is aborted.',
    schema: cancelInput,
    handler: async (payload, { auth }) => {
      await service().cancel(auth.userId, payload.answerId);
      return { answerId: payload.answerId };
    },
  });

  return [ask, resume, cancel];
}
