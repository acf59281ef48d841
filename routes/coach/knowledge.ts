// The coach's knowledge: GET /api/coach/games (users) and POST /admin/coach/ingest (admins).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { knowledgeDocumentSchema, type KnowledgeService } from '../../services/coach/knowledge.ts';

// One request is held to this many documents; larger sets go through `npm run ingest`.
const MAX_DOCUMENTS_PER_REQUEST = 50;

const gameDto = z.object({
  game: z.string().meta({ example: 'lol' }),
  title: z.string().meta({ example: '리그 오브 레전드' }),
  documents: z.number().int(),
  chunks: z.number().int(),
  version: z.number().int().meta({ description: 'Bumped by every ingest that changes this game\'s knowledge' }),
});

const ingestedDto = z.object({
  game: z.string(),
  title: z.string(),
  documentId: z.uuid(),
  status: z.enum(['created', 'updated', 'unchanged']),
  chunks: z.number().int(),
  summarizedChunks: z.number().int(),
});

export function coachKnowledgeRoutes(api: Api, deps: { coachKnowledge: KnowledgeService }): void {
  api.route({
    method: 'get', path: '/api/coach/games', summary: 'The games the coach has knowledge of', tags: ['coach'], auth: 'user',
    responses: { 200: { description: 'Games with at least one knowledge chunk', schema: z.object({ games: z.array(gameDto) }) } },
    handler: async () => ({ body: { games: await deps.coachKnowledge.games() } }),
  });

  api.route({
    method: 'post', path: '/admin/coach/ingest',
    summary: 'Ingest knowledge documents: chunked, long chunks summarised, embedded; unchanged documents are skipped',
    tags: ['admin', 'coach'], auth: 'admin',
    body: z.object({ documents: z.array(knowledgeDocumentSchema).min(1).max(MAX_DOCUMENTS_PER_REQUEST) }),
    responses: {
      200: {
        description: 'What happened to each document, and the games\' knowledge versions after it',
        schema: z.object({ documents: z.array(ingestedDto), versions: z.record(z.string(), z.number().int()), costUsd: z.number() }),
      },
    },
    handler: async ({ body, ctx }) => {
      // An admin who gives up stops the remaining embedding calls; finished documents stay stored.
      const aborted = new AbortController();
      // The response closing before it was written means the client hung up (the request's own
      // 'close' fires as soon as its body has been read).
      ctx.res.once('close', () => { if (!ctx.res.writableEnded) aborted.abort(); });
      return { body: await deps.coachKnowledge.ingest(body.documents, { signal: aborted.signal }) };
    },
  });
}
