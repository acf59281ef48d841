// /api/coach: ask (the whole answer in one response) and history. Streaming is on the /coach socket.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { AskService } from '../../services/coach/ask.ts';
import type { HistoryService } from '../../services/coach/history.ts';
import { askInput, askResult, historyItem, historyQuery } from '../../services/coach/schemas.ts';

export function coachRoutes(api: Api, deps: { ask: AskService; history: HistoryService }): void {
  api.route({
    method: 'post', path: '/api/coach/ask', summary: 'Ask the coach and wait for the whole answer (the /coach socket streams it instead)', tags: ['coach'],
    auth: 'user', body: askInput,
    responses: {
      200: { description: 'The answer; X-Cost-USD and X-Plan-Remaining headers', schema: askResult },
      429: { description: 'quota_exceeded: the plan\'s calls for this period are used up (resetAt says when they return)' },
    },
    handler: async ({ auth, body }) => {
      const started = await deps.ask.start(auth.userId, body);
      const result = await started.result;
      return { body: result, headers: { 'X-Cost-USD': result.costUsd.toFixed(6), 'X-Plan-Remaining': String(result.planRemaining) } };
    },
  });

  api.route({
    method: 'get', path: '/api/coach/history', summary: 'My questions and answers, newest first', tags: ['coach'], auth: 'user', query: historyQuery,
    responses: { 200: { description: 'A page; pass nextCursor as cursor for the next', schema: z.object({ items: z.array(historyItem), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await deps.history.list(auth.userId, query) }),
  });

  api.route({
    method: 'get', path: '/api/coach/history/:id', summary: 'One of my answers', tags: ['coach'], auth: 'user', params: z.object({ id: z.uuid() }),
    responses: { 200: { description: 'The answer', schema: historyItem }, 404: { description: 'No such answer of yours' } },
    handler: async ({ auth, params }) => ({ body: await deps.history.get(auth.userId, params.id) }),
  });
}
