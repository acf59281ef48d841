// Walks: POST /walks (the track, checked in the geo worker), GET /walks (mine), GET /walks/:id, the
// monthly calendar and stats, and a walk's photos.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { uploadedFile } from '../../server/http/upload.ts';
import { clientInstant } from '../../services/time.ts';
import { calendarDto, statsDto, WALK_BODY_LIMIT_BYTES, walkDto, walkInput, walkListDto, type WalkService } from '../../services/walk/walks.ts';

const idParams = z.object({ id: z.uuid() });
const FORM_OVERHEAD_BYTES = 64 * 1024;

export function walkRoutes(api: Api, deps: { walks: WalkService }): void {
  api.route({
    method: 'post', path: '/walks', tags: ['walk'], auth: 'user', body: walkInput, bodyLimitBytes: WALK_BODY_LIMIT_BYTES,
    summary: 'Record a walk: its GPS track (≤ 20,000 fixes) is checked for cheating; a flagged walk is kept with its reasons but counts for nothing. Idempotent per clientWalkId',
    responses: {
      201: { description: 'The walk, as stored', schema: walkDto },
      200: { description: 'This clientWalkId was stored before: the stored walk, nothing moved again', schema: walkDto },
      400: { description: 'A bad track, naming the fix (unsorted times, out-of-range coordinates, too many fixes)' },
      413: { description: 'Body larger than 4 MB' },
    },
    handler: async ({ auth, body }) => {
      const { walk, created } = await deps.walks.record(auth.userId, body);
      return { status: created ? 201 : 200, body: walk };
    },
  });
  api.route({
    method: 'get', path: '/walks', summary: 'My walks, newest first, by cursor (without premium: the last 90 days)', tags: ['walk'], auth: 'user',
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(200).optional() }),
    responses: { 200: { description: 'A page', schema: walkListDto } },
    handler: async ({ auth, query }) => ({ body: await deps.walks.list(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/walks/calendar', summary: 'My walks of a KST month, day by day (without premium: of the last 90 days)', tags: ['walk'], auth: 'user',
    query: z.object({ month: z.string().regex(/^(20\d\d)-(0[1-9]|1[0-2])$/, 'must be YYYY-MM').meta({ example: '2026-11' }) }),
    responses: { 200: { description: 'The days with walks', schema: calendarDto } },
    handler: async ({ auth, query }) => ({ body: await deps.walks.monthCalendar(auth.userId, query.month) }),
  });
  api.route({
    method: 'get', path: '/walks/stats', summary: 'My totals this KST week (from Monday), month, year or all time', tags: ['walk'], auth: 'user',
    query: z.object({ period: z.enum(['week', 'month', 'year', 'all']).default('week') }),
    responses: { 200: { description: 'The totals', schema: statsDto } },
    handler: async ({ auth, query }) => ({ body: await deps.walks.stats(auth.userId, query.period) }),
  });
  api.route({
    method: 'get', path: '/walks/:id', summary: "A walk: mine in full; someone else's trusted walk with the route cut at their home zones", tags: ['walk'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The walk', schema: walkDto }, 404: { description: 'No such walk you may see' } },
    handler: async ({ auth, params }) => ({ body: await deps.walks.get(auth.userId, params.id) }),
  });
  api.route({
    method: 'post', path: '/walks/:id/photos', summary: 'A photo taken on a walk of mine (as the body or a form\'s `file`; where and when in the query); ≤ 10 MB, ≤ 20 per walk', tags: ['walk'], auth: 'user',
    params: idParams,
    query: z.object({ lat: z.coerce.number().min(-90).max(90).optional(), lng: z.coerce.number().min(-180).max(180).optional(), takenAt: clientInstant.optional() })
      .refine((q) => (q.lat === undefined) === (q.lng === undefined), { path: ['lng'], message: 'lat and lng go together' }),
    rawBody: { maxBytes: 10 * 1024 * 1024 + FORM_OVERHEAD_BYTES, contentType: ['image/jpeg', 'image/png', 'image/webp', 'multipart/form-data'] },
    responses: { 201: { description: 'The photo, with an expiring URL', schema: walkDto.shape.photos.element }, 409: { description: 'too_many_photos' } },
    handler: async ({ auth, params, query, rawBody, ctx }) => ({
      status: 201,
      body: await deps.walks.addPhoto(auth.userId, params.id, (await uploadedFile(ctx, rawBody!)).bytes, { lat: query.lat, lng: query.lng, takenAt: query.takenAt }),
    }),
  });
}
