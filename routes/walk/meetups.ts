// Meetups: the board (POST /meetups, GET /meetups/nearby, GET /meetups/mine, GET /meetups/:id), the
// host's edits and cancel, join and leave, and the members' walk-together session.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import {
  MAX_NEARBY_RADIUS_M, meetupDetailDto, meetupDto, meetupInput, meetupPatch, meetupSessionDto, mineQuery, nearbyQuery, type MeetupService,
} from '../../services/walk/meetups.ts';

const idParams = z.object({ id: z.uuid() });
const notVisible = { description: 'No such meetup you may see' };

export function meetupRoutes(api: Api, deps: { meetups: MeetupService }): void {
  api.route({
    method: 'post', path: '/meetups', tags: ['walk'], auth: 'user', body: meetupInput,
    summary: 'Post a walking meetup at a place and time for 2–50 walkers; the host is its first member',
    responses: { 201: { description: 'The meetup', schema: meetupDto }, 400: { description: 'Bad input, naming the field (a start in the past, capacity outside 2..50, …)' } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.meetups.create(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/meetups/nearby', tags: ['walk'], auth: 'user', query: nearbyQuery,
    summary: `Open meetups still to start within radiusM (≤ ${MAX_NEARBY_RADIUS_M / 1000} km) of a point, nearest first`,
    responses: { 200: { description: 'The nearest meetups, each with distanceM', schema: z.object({ items: z.array(meetupDto) }) } },
    handler: async ({ auth, query }) => ({ body: await deps.meetups.nearby(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/meetups/mine', tags: ['walk'], auth: 'user', query: mineQuery,
    summary: 'Meetups I host and joined, latest start first, by cursor',
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(meetupDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await deps.meetups.mine(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/meetups/:id', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'A meetup with its members',
    responses: { 200: { description: 'The meetup', schema: meetupDetailDto }, 404: notVisible },
    handler: async ({ auth, params }) => ({ body: await deps.meetups.get(auth.userId, params.id) }),
  });
  api.route({
    method: 'patch', path: '/meetups/:id', tags: ['walk'], auth: 'user', params: idParams, body: meetupPatch,
    summary: 'Change my meetup before it starts (host only); a new time or place notifies its members',
    responses: {
      200: { description: 'The meetup', schema: meetupDto }, 403: { description: 'not_host' }, 404: notVisible,
      409: { description: 'meetup_cancelled, meetup_started, or capacity_below_members' },
    },
    handler: async ({ auth, params, body }) => ({ body: await deps.meetups.update(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'post', path: '/meetups/:id/cancel', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'Cancel my meetup (host only); its members are notified. Cancelling again changes nothing',
    responses: { 200: { description: 'The cancelled meetup', schema: meetupDto }, 403: { description: 'not_host' }, 404: notVisible, 409: { description: 'meetup_over' } },
    handler: async ({ auth, params }) => ({ body: await deps.meetups.cancel(auth.userId, params.id) }),
  });
  api.route({
    method: 'post', path: '/meetups/:id/join', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'Join a meetup that has not started and has a place left; joining again changes nothing',
    responses: {
      201: { description: 'Joined', schema: meetupDto }, 200: { description: 'Already a member', schema: meetupDto }, 404: notVisible,
      409: { description: 'meetup_full, meetup_started or meetup_cancelled' },
    },
    handler: async ({ auth, params }) => {
      const { meetup, joined } = await deps.meetups.join(auth.userId, params.id);
      return { status: joined ? 201 : 200, body: meetup };
    },
  });
  api.route({
    method: 'post', path: '/meetups/:id/leave', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'Leave a meetup before it starts, freeing the place (the host cancels instead); leaving again changes nothing',
    responses: { 200: { description: 'The meetup', schema: meetupDto }, 404: notVisible, 409: { description: 'host_cannot_leave or meetup_started' } },
    handler: async ({ auth, params }) => ({ body: (await deps.meetups.leave(auth.userId, params.id)).meetup }),
  });
  api.route({
    method: 'post', path: '/meetups/:id/session', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'Start the walk-together session for the members (the host any time, a member from 30 minutes before); its open session if started',
    responses: {
      201: { description: 'Started: members connected to /walk hear session.invited', schema: meetupSessionDto },
      200: { description: 'Its open session, started before', schema: meetupSessionDto },
      403: { description: 'not_member' }, 404: notVisible, 409: { description: 'too_early, no_members or meetup_cancelled' },
    },
    handler: async ({ auth, params }) => {
      const started = await deps.meetups.startSession(auth.userId, params.id);
      return { status: started.created ? 201 : 200, body: started };
    },
  });
}
