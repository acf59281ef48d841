// A user's stored notifications: writing one (once per dedupe key), pages, sync after an id, and
// read state. Nothing here reaches a socket or a device; notify.ts does that.
import { z } from 'zod';
import { Notification } from '../../entities/notifications/Notification.ts';
import { cursorCodec } from '../cursor.ts';
import { notFound } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { notificationId, type ListQuery, type NotificationDto, type NotificationPage } from './schemas.ts';

// Namespace of the per-user advisory lock held while a notification is inserted (see store()).
const STORE_LOCK_NAMESPACE = 727_100_010;
const DEFAULT_SYNC_LIMIT = 50;
// Newest-first pages continue below the last id shown.
const pageCursor = cursorCodec(z.object({ before: notificationId }));

export type StoredNotification = { notification: Notification; created: boolean; unreadCount: number };
export type NewNotification = {
  type: string;
  category: Notification['category'];
  title: string;
  body: string;
  data: Record<string, unknown>;
  dedupeKey?: string;
};

export function createNotificationInbox(deps: { em: Em; time: TimeFormatter }) {
  const { time } = deps;

  const toDto = (n: Notification): NotificationDto => ({
    id: String(n.id),
    type: n.type,
    category: n.category,
    title: n.title,
    body: n.body,
    data: n.data ?? {},
    createdAt: time.format(n.createdAt),
    readAt: time.formatNullable(n.readAt),
  });

  const unreadCount = (em: Em, userId: string) => em.count(Notification, { userId, readAt: null });

  // The insert runs under a per-user advisory lock, so the sequence value it takes is larger than
  // any id of this user that is not yet committed: a user's ids grow in commit order, and a client
  // that has seen id N has been able to see everything before it. The dedupe key's unique
  // constraint makes the same event one row even when two nodes report it at the same moment.
  async function store(userId: string, input: NewNotification): Promise<StoredNotification> {
    return inTransaction(deps.em.fork(), async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(?, hashtext(?))', [STORE_LOCK_NAMESPACE, userId]);
      const inserted = await tx.execute<{ id: string }[]>(
        `insert into notifications (user_id, type, category, title, body, data, dedupe_key)
         values (?, ?, ?, ?, ?, ?, ?)
         on conflict (user_id, dedupe_key) do nothing
         returning id`,
        [userId, input.type, input.category, input.title, input.body, JSON.stringify(input.data), input.dedupeKey ?? null],
      );
      const created = inserted.length > 0;
      const notification = await tx.findOneOrFail(Notification, created ? { id: String(inserted[0].id) } : { userId, dedupeKey: input.dedupeKey! });
      return { notification, created, unreadCount: await unreadCount(tx, userId) };
    });
  }

  async function list(userId: string, query: ListQuery): Promise<NotificationPage> {
    const em = deps.em.fork();
    const unread = query.unread ? { readAt: null } : {};
    if (query.after) {
      const rows = await em.find(Notification, { userId, id: { $gt: query.after }, ...unread }, { orderBy: { id: 'asc' }, limit: query.limit + 1 });
      return page(em, userId, rows, query.limit, false);
    }
    const before = query.cursor ? pageCursor.decode(query.cursor).before : undefined;
    const rows = await em.find(Notification, { userId, ...(before ? { id: { $lt: before } } : {}), ...unread }, { orderBy: { id: 'desc' }, limit: query.limit + 1 });
    return page(em, userId, rows, query.limit, true);
  }

  // For a socket that (re)connects: everything after the last id it saw, oldest first. Without an
  // id (a first connection) the newest page, oldest first, so the last item is the next `after`.
  async function sync(userId: string, opts: { after?: string; limit?: number }): Promise<Omit<NotificationPage, 'nextCursor'>> {
    const limit = opts.limit ?? DEFAULT_SYNC_LIMIT;
    if (opts.after) {
      const { items, hasMore, unreadCount: count } = await list(userId, { after: opts.after, limit });
      return { items, hasMore, unreadCount: count };
    }
    const em = deps.em.fork();
    const rows = await em.find(Notification, { userId }, { orderBy: { id: 'desc' }, limit });
    return { items: rows.reverse().map(toDto), hasMore: false, unreadCount: await unreadCount(em, userId) };
  }

  async function markRead(userId: string, id: string): Promise<{ notification: NotificationDto; unreadCount: number }> {
    const em = deps.em.fork();
    const updated = await em.execute<{ id: string }[]>(
      'update notifications set read_at = coalesce(read_at, now()) where id = ? and user_id = ? returning id',
      [id, userId],
    );
    if (!updated.length) throw notFound('Notification');
    const notification = await em.findOneOrFail(Notification, { id });
    return { notification: toDto(notification), unreadCount: await unreadCount(em, userId) };
  }

  async function markAllRead(userId: string): Promise<{ updated: number; unreadCount: number }> {
    const em = deps.em.fork();
    const updated = await em.nativeUpdate(Notification, { userId, readAt: null }, { readAt: new Date() });
    return { updated, unreadCount: await unreadCount(em, userId) };
  }

  async function page(em: Em, userId: string, rows: Notification[], limit: number, newestFirst: boolean): Promise<NotificationPage> {
    const hasMore = rows.length > limit;
    const items = rows.slice(0, limit);
    return {
      items: items.map(toDto),
      nextCursor: newestFirst && hasMore ? pageCursor.encode({ before: String(items[items.length - 1].id) }) : null,
      hasMore,
      unreadCount: await unreadCount(em, userId),
    };
  }

  return { store, list, sync, markRead, markAllRead, toDto, unreadCount: (userId: string) => unreadCount(deps.em.fork(), userId) };
}

export type NotificationInbox = ReturnType<typeof createNotificationInbox>;
