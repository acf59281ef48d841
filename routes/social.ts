// Likes and comments on any module's target type, through the platform's social service: under
// `path` (/characters/:id/like, /like-status, /comments) and the target's comments under `comments`
// (PUT/DELETE /comments/:id). Chat mounts characters and stories; walk mounts walks.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import { commentDto, commentInput, likeStatusDto, type SocialTarget } from '../services/social/social.ts';

const idParams = z.object({ id: z.uuid() });

export function socialRoutes(api: Api, deps: { target: SocialTarget; path: string; comments: string; noun: string; tag: string }): void {
  const t = deps.target;
  const { path: base, comments: commentBase, noun } = deps;
  api.route({
    method: 'post', path: `${base}/:id/like`, summary: `Like a ${noun} (liking twice is one like)`, tags: [deps.tag, 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'Liked, and the counts', schema: likeStatusDto }, 404: { description: `No such ${noun} you may see` } },
    handler: async ({ auth, params }) => ({ body: await t.like(auth.userId, params.id) }),
  });
  api.route({
    method: 'delete', path: `${base}/:id/like`, summary: 'Take your like back (unliking what you do not like changes nothing)', tags: [deps.tag, 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'Not liked, and the counts', schema: likeStatusDto }, 404: { description: `No such ${noun} you may see` } },
    handler: async ({ auth, params }) => ({ body: await t.unlike(auth.userId, params.id) }),
  });
  api.route({
    method: 'get', path: `${base}/:id/like-status`, summary: `Whether you like a ${noun}, and its like and comment counts`, tags: [deps.tag, 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The status', schema: likeStatusDto }, 404: { description: `No such ${noun} you may see` } },
    handler: async ({ auth, params }) => ({ body: await t.status(auth.userId, params.id) }),
  });
  api.route({
    method: 'post', path: `${base}/:id/comments`, summary: `Comment on a ${noun} (or reply to a comment)`, tags: [deps.tag, 'social'], auth: 'user', params: idParams, body: commentInput,
    responses: { 201: { description: 'The comment', schema: commentDto }, 404: { description: `No such ${noun} you may see` } },
    handler: async ({ auth, params, body }) => ({ status: 201, body: await t.comment(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'get', path: `${base}/:id/comments`, summary: `A ${noun}'s comments, newest first, by cursor`, tags: [deps.tag, 'social'], auth: 'user', params: idParams,
    query: z.object({ cursor: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(100).default(20) }),
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(commentDto), nextCursor: z.string().nullable() }) }, 404: { description: `No such ${noun} you may see` } },
    handler: async ({ auth, params, query }) => ({ body: await t.comments(auth.userId, params.id, query) }),
  });
  api.route({
    method: 'put', path: `${commentBase}/:id`, summary: `Edit your comment on a ${noun}`, tags: [deps.tag, 'social'], auth: 'user', params: idParams, body: commentInput.pick({ body: true }),
    responses: { 200: { description: 'The comment', schema: commentDto }, 403: { description: 'not_author' }, 404: { description: 'No such comment' } },
    handler: async ({ auth, params, body }) => ({ body: await t.editComment(auth.userId, params.id, body.body) }),
  });
  api.route({
    method: 'delete', path: `${commentBase}/:id`, summary: `Delete your comment on a ${noun} (its replies stay readable)`, tags: [deps.tag, 'social'], auth: 'user', params: idParams,
    responses: { 204: { description: 'Deleted' }, 403: { description: 'not_author' }, 404: { description: 'No such comment' } },
    handler: async ({ auth, params }) => t.deleteComment(auth.userId, params.id),
  });
}
