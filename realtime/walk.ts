// /walk: walking together.
//   session.create {invitees: userId[1..9]} → ack { sessionId, session }; you are in it (joined), each
//     invitee hears session.invited on every socket of theirs
//   session.join {sessionId}   → ack { session (participants with their state), positions: the others'
//     last positions } (participants only; from any node, e.g. after a reconnect)
//   position {sessionId, lat, lng, t, accuracy} → ack { blurred }; at most 1 Hz per walker (faster:
//     rate_limited, not relayed); the others in the session get `session.position`, blurred inside your home zones
//   session.leave {sessionId}  → ack { closed }; session.end {sessionId} (its creator) → ack {}
// Server events: session.invited, session.presence (joined / active / stale / left), session.position, session.closed.
import type { z } from 'zod';
import { unavailable } from '../services/errors.ts';
import { createSessionInput, positionInput, sessionRef } from '../services/walk/schemas.ts';
import { togetherRoom, type TogetherService } from '../services/walk/together.ts';
import { defineClientEvent, type ClientEvent } from './events.ts';
import { userRoom } from './index.ts';

export function walkEvents(opts: { services: () => { together: TogetherService } | undefined }): ClientEvent<z.ZodType>[] {
  const together = () => {
    const s = opts.services();
    if (!s) throw unavailable('not_ready', 'Walking together is not available on this node');
    return s.together;
  };

  const create = defineClientEvent({
    event: 'session.create',
    summary: 'Start a walk-together session with 1 to 9 other walkers; you are in it at once, they hear session.invited',
    schema: createSessionInput,
    handler: async (input, { auth, socket }) => {
      const session = await together().create(auth.userId, input);
      await socket.join(togetherRoom(session.id));
      return { sessionId: session.id, session };
    },
  });

  const join = defineClientEvent({
    event: 'session.join',
    summary: 'Join a session you are a participant of (again after a reconnect, on any node); the ack carries the participants\' state and the others\' last positions',
    schema: sessionRef,
    handler: async ({ sessionId }, { auth, socket }) => {
      const joined = await together().join(auth.userId, sessionId);
      await socket.join(togetherRoom(sessionId));
      return joined;
    },
  });

  const position = defineClientEvent({
    event: 'position',
    summary: 'Your position, at most once a second; the other walkers of the session receive it (blurred inside your home zones)',
    schema: positionInput,
    handler: async (input, { auth, socket }) => {
      const relay = await together().position(auth.userId, input);
      // To the others only: not back to any socket of the sender's.
      socket.to(togetherRoom(input.sessionId)).except(userRoom(auth.userId)).emit('session.position', relay);
      return { blurred: relay.blurred };
    },
  });

  const leave = defineClientEvent({
    event: 'session.leave',
    summary: 'Leave a session; when the last walker leaves it closes',
    schema: sessionRef,
    handler: async ({ sessionId }, { auth, socket }) => {
      const { closed } = await together().leave(auth.userId, sessionId);
      await socket.leave(togetherRoom(sessionId));
      return { closed };
    },
  });

  const end = defineClientEvent({
    event: 'session.end',
    summary: 'End a session you started, for everyone (they hear session.closed)',
    schema: sessionRef,
    handler: async ({ sessionId }, { auth, socket }) => {
      await together().end(auth.userId, sessionId);
      await socket.leave(togetherRoom(sessionId));
    },
  });

  return [create, join, position, leave, end];
}
