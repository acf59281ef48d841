// A user's past questions and answers, newest first, with an opaque keyset cursor.
import { z } from 'zod';
import { CoachAnswer } from '../../entities/coach/CoachAnswer.ts';
import { cursorCodec } from '../cursor.ts';
import { notFound } from '../errors.ts';
import { clientInstant, type TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { HistoryItem } from './schemas.ts';

// The last item's (createdAt, id): the page after it is strictly older in that order.
const historyCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));

export function createHistoryService(deps: { em: Em; time: TimeFormatter }) {
  const toItem = (a: CoachAnswer): HistoryItem => ({
    answerId: a.id, game: a.game, category: a.category ?? null, tags: a.tags, question: a.question, answer: a.answer,
    status: a.status, cached: a.isCached, costUsd: Number(a.costUsd), sources: a.sources, createdAt: deps.time.format(a.createdAt),
  });

  async function list(userId: string, q: { cursor?: string; limit: number; game?: string }): Promise<{ items: HistoryItem[]; nextCursor: string | null }> {
    const after = q.cursor ? historyCursor.decode(q.cursor) : undefined;
    const rows = await deps.em.find(
      CoachAnswer,
      {
        userId,
        ...(q.game ? { game: q.game } : {}),
        ...(after ? { $or: [{ createdAt: { $lt: after.at } }, { createdAt: after.at, id: { $lt: after.id } }] } : {}),
      },
      { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: q.limit + 1 },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toItem), nextCursor: rows.length > q.limit && last ? historyCursor.encode({ at: last.createdAt.toISOString(), id: last.id }) : null };
  }

  async function get(userId: string, answerId: string): Promise<HistoryItem> {
    const row = await deps.em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    return toItem(row);
  }

  return { list, get };
}

export type HistoryService = ReturnType<typeof createHistoryService>;
