// The notifications module as the rest of the server sees it: notify() for other modules, and the
// inbox, settings and push-token operations behind the REST routes and the /notifications socket.
import type { PushProvider } from '../../integrations/push/index.ts';
import type { Logger } from 'pino';
import type { Limiter } from '../limiter.ts';
import { namespacePort, type RealtimePort } from '../realtime.ts';
import { notificationServerEvents, type NotificationTypePolicy } from './schemas.ts';
import type { SmsService } from '../sms/sms.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import type { Em } from '../transaction.ts';
import { createNotificationInbox } from './inbox.ts';
import { createNotifier } from './notify.ts';
import { createPushTokens } from './pushTokens.ts';
import { createNotificationSettings } from './settings.ts';

export type NotificationServiceDeps = {
  em: Em;
  time: TimeFormatter;
  realtime: RealtimePort;
  push: PushProvider;
  sms: SmsService;
  pushLimiter: Limiter;
  typePushLimiters?: ReadonlyMap<string, Limiter>;
  // Every declared notification type (all listed modules'): their switches in settings.
  types?: Readonly<Record<string, NotificationTypePolicy>>;
  logger: Logger;
  defaultTimeZone: string;
  clock: Clock;
};

export function createNotificationService(deps: NotificationServiceDeps) {
  const inbox = createNotificationInbox({ em: deps.em, time: deps.time });
  const settings = createNotificationSettings({ em: deps.em, time: deps.time, clock: deps.clock, defaultTimeZone: deps.defaultTimeZone, types: deps.types });
  const pushTokens = createPushTokens({ em: deps.em, time: deps.time });
  const sockets = namespacePort(deps.realtime, 'notifications', notificationServerEvents);
  const { notify } = createNotifier({ ...deps, sockets, inbox, settings, pushTokens });

  // Read state changes reach the user's other devices, so every badge shows the same count.
  async function markRead(userId: string, id: string) {
    const result = await inbox.markRead(userId, id);
    sockets.emitToUser(userId, 'notification.read', { ids: [result.notification.id], all: false, unreadCount: result.unreadCount });
    return result;
  }

  async function markAllRead(userId: string) {
    const result = await inbox.markAllRead(userId);
    sockets.emitToUser(userId, 'notification.read', { ids: [], all: true, unreadCount: result.unreadCount });
    return result;
  }

  return {
    notify,
    list: inbox.list,
    sync: inbox.sync,
    unreadCount: inbox.unreadCount,
    markRead,
    markAllRead,
    settings: { get: settings.get, update: settings.update, switchedOff: settings.switchedOff },
    pushTokens: { register: pushTokens.register, remove: pushTokens.remove },
  };
}

export type NotificationService = ReturnType<typeof createNotificationService>;
