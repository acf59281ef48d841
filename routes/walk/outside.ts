// Outside data: GET /walk/outside (weather, air and a walking index from the cache the hourly cron
// fills) and GET /walk/vets/nearby (animal hospitals by earthdistance). Both answer 'unavailable'
// with what is cached when a provider is down or not configured, never a 5xx.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { MAX_VET_RADIUS_M, outsideDto, vetsDto, type OutsideService } from '../../services/walk/outside.ts';

export function outsideRoutes(api: Api, deps: { outside: OutsideService }): void {
  api.route({
    method: 'get', path: '/walk/outside', summary: 'Weather, air quality and a walking index for a region (default: your profile region)', tags: ['walk'], auth: 'user',
    query: z.object({
      region: z.string().trim().min(1).max(50).optional().meta({ description: 'Free text starting with a sido, e.g. "서울 마포구"; default: your walk profile\'s region' }),
    }),
    responses: { 200: { description: 'From the cache only; status unavailable (with the last value and its age) when the provider is down or not configured. 400 no_region / unknown_region', schema: outsideDto } },
    handler: async ({ auth, query }) => ({ body: await deps.outside.current(auth.userId, query.region) }),
  });
  api.route({
    method: 'get', path: '/walk/vets/nearby', summary: 'Animal hospitals near a point, nearest first', tags: ['walk'], auth: 'user',
    query: z.object({
      lat: z.coerce.number().min(-90).max(90),
      lng: z.coerce.number().min(-180).max(180),
      radiusM: z.coerce.number().int().min(1).max(MAX_VET_RADIUS_M).default(500).meta({ description: `Metres, 1..${MAX_VET_RADIUS_M}, default 500` }),
    }),
    responses: { 200: { description: 'Cached places (Kakao Local), the area searched again when a day old; status unavailable with the cached rows when Kakao is down or not configured', schema: vetsDto } },
    handler: async ({ query }) => ({ body: await deps.outside.nearbyVets(query) }),
  });
}
