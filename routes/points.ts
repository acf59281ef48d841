// /point: the points wallet at the seed's paths (GET /point/balance, POST /point/use,
// GET /point/transactions, GET /point/summary). Modules credit and spend through services/billing/points.ts.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import { cursorCodec } from '../services/cursor.ts';
import { POINT_ENTRY_TYPES, type PointsWallet } from '../services/billing/points.ts';
import { pointEntryDto, pointUseBody, walletDto } from '../services/billing/schemas.ts';
import { calendarDate, zoneCalendar } from '../services/time.ts';
import { badRequest } from '../services/errors.ts';
import type { Clock } from '../services/time.ts';

// Newest first: a page continues below the last entry's id.
const entriesCursor = cursorCodec(z.object({ before: z.string().regex(/^[1-9]\d{0,18}$/) }));
const SUMMARY_DEFAULT_DAYS = 30;
const SUMMARY_MAX_DAYS = 366;
const DAY_MS = 86_400_000;

export function pointRoutes(api: Api, deps: { points: PointsWallet; clock: Clock; timeZone: string }): void {
  const calendar = zoneCalendar(deps.timeZone);

  api.route({
    method: 'get', path: '/point/balance', summary: 'My points: the balance, any debt a refund left, and totals', tags: ['points'], auth: 'user',
    responses: { 200: { description: 'The wallet', schema: walletDto } },
    handler: async ({ auth }) => ({ body: await deps.points.balance(auth.userId) }),
  });

  api.route({
    method: 'post', path: '/point/use', summary: "Spend points from a user's wallet (operators and internal callers; modules spend through the wallet service)", tags: ['points', 'admin'],
    auth: 'admin', body: pointUseBody, idempotent: true,
    responses: {
      200: { description: 'The ledger entry and the balance after it', schema: z.object({ entry: pointEntryDto, replayed: z.boolean() }) },
      402: { description: 'insufficient_points: the balance does not cover it; nothing was spent' },
    },
    handler: async ({ body, idempotencyKey }) => ({
      body: await deps.points.spend(body.userId, { amount: body.amount, description: body.description, reference: body.reference, idempotencyKey: `point-use:${idempotencyKey}` }),
    }),
  });

  api.route({
    method: 'get', path: '/point/transactions', summary: 'My points ledger, newest first', tags: ['points'], auth: 'user',
    query: z.object({
      cursor: z.string().max(200).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
      type: z.enum(POINT_ENTRY_TYPES).optional(),
    }),
    responses: { 200: { description: 'A page; pass nextCursor as cursor for the next', schema: z.object({ items: z.array(pointEntryDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => {
      const beforeId = query.cursor ? entriesCursor.decode(query.cursor).before : undefined;
      const page = await deps.points.transactions(auth.userId, { beforeId, limit: query.limit, type: query.type });
      return { body: { items: page.items, nextCursor: page.nextBeforeId ? entriesCursor.encode({ before: page.nextBeforeId }) : null } };
    },
  });

  api.route({
    method: 'get', path: '/point/summary', summary: `My points in and out over whole days in the server's zone (default the last ${SUMMARY_DEFAULT_DAYS} days)`, tags: ['points'], auth: 'user',
    query: z.object({ from: calendarDate.optional(), to: calendarDate.optional() }),
    responses: {
      200: {
        description: 'Credited and spent points, and each entry type\'s count and total, for [from, to]',
        schema: z.object({
          from: z.string(), to: z.string(), wallet: walletDto, credited: z.number().int(), spent: z.number().int(),
          byType: z.record(z.string(), z.object({ count: z.number().int(), total: z.number().int() })),
        }),
      },
    },
    handler: async ({ auth, query }) => {
      const today = calendar.localDate(deps.clock.now());
      const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
      const to = query.to ?? (query.from ? shift(query.from, SUMMARY_DEFAULT_DAYS - 1) : today);
      const from = query.from ?? shift(to, -(SUMMARY_DEFAULT_DAYS - 1));
      if (from > to) throw badRequest('invalid_range', 'must not be after `to`', 'from');
      if ((Date.parse(to) - Date.parse(from)) / DAY_MS + 1 > SUMMARY_MAX_DAYS) throw badRequest('invalid_range', `the range may span at most ${SUMMARY_MAX_DAYS} days`, 'from');
      const [summary, wallet] = await Promise.all([deps.points.summary(auth.userId, { from, to, zone: deps.timeZone }), deps.points.balance(auth.userId)]);
      return { body: { from, to, wallet, ...summary } };
    },
  });
}
