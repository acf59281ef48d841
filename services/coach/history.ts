// A user's past questions and answers, newest first, with an opaque keyset cursor.
import { CoachAnswer } from '../../entities/coach/CoachAnswer.ts';
import { badRequest, notFound } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { HistoryItem } from './schemas.ts';

type Cursor = { at: string; id: string };

const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decode(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.at !== 'string' || typeof c.id !== 'string' || Number.isNaN(Date.parse(c.at))) throw new Error('shape');
    return c;
  } catch {
    throw badRequest('invalid_cursor', 'The cursor is not one this API returned', 'cursor');
  }
}

export function createHistoryService(deps: { em: Em; time: TimeFormatter }) {
  const toItem = (a: CoachAnswer): HistoryItem => ({
    answerId: a.id, game: a.game, category: a.category ?? null, tags: a.tags, question: a.question, answer: a.answer,
    status: a.status, cached: a.isCached, costUsd: Number(a.costUsd), sources: a.sources, createdAt: deps.time.format(a.createdAt),
  });

  async function list(userId: string, q: { cursor?: string; limit: number; game?: string }): Promise<{ items: HistoryItem[]; nextCursor: string | null }> {
    const after = q.cursor ? decode(q.cursor) : undefined;
    const rows = await deps.em.find(
      CoachAnswer,
      {
        userId,
        ...(q.game ? { game: q.game } : {}),
        ...(after ? { $or: [{ createdAt: { $lt: new Date(after.at) } }, { createdAt: new Date(after.at), id: { $lt: after.id } }] } : {}),
      },
      { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: q.limit + 1 },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return { items: page.map(toItem), nextCursor: rows.length > q.limit && last ? encode({ at: last.createdAt.toISOString(), id: last.id }) : null };
  }

  async function get(userId: string, answerId: string): Promise<HistoryItem> {
    const row = await deps.em.findOne(CoachAnswer, { id: answerId });
    if (!row || row.userId !== userId) throw notFound('Answer');
    return toItem(row);
  }

  return { list, get };
}

export type HistoryService = ReturnType<typeof createHistoryService>;
