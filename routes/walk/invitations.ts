// Walk invitations: invite followers to walk at a time and place (POST /walk/invitations), the
// received and sent boxes, one invitation, the invitees' accept and decline, the inviter's cancel and
// early start of the walk-together session (the cron starts it at its time otherwise).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import {
  invitationDto, invitationInput, invitationListQuery, invitationSessionDto, MAX_AHEAD_DAYS, type InvitationService,
} from '../../services/walk/invitations.ts';
import { MAX_INVITEES } from '../../services/walk/schemas.ts';

const idParams = z.object({ id: z.uuid() });
const notVisible = { description: 'No such invitation you may see' };
const tags = ['walk', 'social'];

export function invitationRoutes(api: Api, deps: { invitations: InvitationService }): void {
  const s = deps.invitations;
  api.route({
    method: 'post', path: '/walk/invitations', tags, auth: 'user', body: invitationInput,
    summary: `Invite 1–${MAX_INVITEES} of my followers to walk at a time (within ${MAX_AHEAD_DAYS} days) and place; each is notified (walk.invitation)`,
    responses: {
      201: { description: 'The invitation', schema: invitationDto },
      400: { description: 'Bad input, naming the field (invitees who are not my followers, a start in the past, …)' },
    },
    handler: async ({ auth, body }) => ({ status: 201, body: await s.create(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/walk/invitations', tags, auth: 'user', query: invitationListQuery,
    summary: 'Invitations to me (box=received) or mine (box=sent), newest first, by cursor',
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(invitationDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await s.list(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/walk/invitations/:id', tags, auth: 'user', params: idParams,
    summary: 'An invitation (to its inviter and invitees) with every invitee\'s answer',
    responses: { 200: { description: 'The invitation', schema: invitationDto }, 404: notVisible },
    handler: async ({ auth, params }) => ({ body: await s.get(auth.userId, params.id) }),
  });
  for (const [what, verb] of [['accept', 'Accept'], ['decline', 'Decline']] as const) {
    api.route({
      method: 'post', path: `/walk/invitations/:id/${what}`, tags, auth: 'user', params: idParams,
      summary: `${verb} an invitation to me before its time; the first answer stands (the same again changes nothing) and the inviter is notified`,
      responses: {
        200: { description: 'The invitation', schema: invitationDto }, 403: { description: 'not_invitee' }, 404: notVisible,
        409: { description: 'already_answered (the other answer stands), invitation_expired, invitation_started or invitation_cancelled' },
      },
      handler: async ({ auth, params }) => ({ body: (await s[what](auth.userId, params.id)).invitation }),
    });
  }
  api.route({
    method: 'post', path: '/walk/invitations/:id/cancel', tags, auth: 'user', params: idParams,
    summary: 'Cancel my invitation before its walk starts; invitees who had not declined are notified. Cancelling again changes nothing',
    responses: {
      200: { description: 'The cancelled invitation', schema: invitationDto }, 403: { description: 'not_inviter' }, 404: notVisible,
      409: { description: 'invitation_started or invitation_expired' },
    },
    handler: async ({ auth, params }) => ({ body: await s.cancel(auth.userId, params.id) }),
  });
  api.route({
    method: 'post', path: '/walk/invitations/:id/start', tags, auth: 'user', params: idParams,
    summary: 'Open the walk-together session for me and those who accepted, from 30 minutes before the time (the cron opens it at the time otherwise); its session if open already',
    responses: {
      201: { description: 'Opened: the accepted invitees connected to /walk hear session.invited', schema: invitationSessionDto },
      200: { description: 'Its session, opened before', schema: invitationSessionDto },
      403: { description: 'not_inviter' }, 404: notVisible,
      409: { description: 'too_early, no_accepted, invitation_cancelled or invitation_expired' },
    },
    handler: async ({ auth, params }) => {
      const started = await s.start(auth.userId, params.id);
      return { status: started.created ? 201 : 200, body: started };
    },
  });
}
