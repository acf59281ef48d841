// notify(): the one orchestrator every app module calls. It stores the
// notification (once per dedupe key), shows it on the user's sockets on every node, and pushes it
// to their devices only when no socket showed it and the user's settings and a per-type frequency
// limit allow; an SMS is sent when the caller asks for one. Every channel's outcome is recorded.
import { NotificationDelivery, type DeliveryChannel, type DeliveryOutcome } from '../../entities/notifications/NotificationDelivery.ts';
import type { Notification } from '../../entities/notifications/Notification.ts';
import type { PushProvider } from '../../integrations/push/index.ts';
import type { Logger } from 'pino';
import type { Limiter } from '../limiter.ts';
import { validationError } from '../errors.ts';
import type { NamespacePort } from '../realtime.ts';
import type { SmsService } from '../sms/sms.ts';
import { zoneCalendar, type Clock } from '../time.ts';
import type { Em } from '../transaction.ts';
import type { NotificationInbox } from './inbox.ts';
import type { PushTokens } from './pushTokens.ts';
import { notifyInput, type NotificationDto, type NotifyInput, type notificationServerEvents } from './schemas.ts';
import type { EffectiveSettings, NotificationSettings } from './settings.ts';

export type Delivery = { channel: DeliveryChannel; outcome: DeliveryOutcome; detail?: string };
export type NotifyResult = { notification: NotificationDto; created: boolean; unreadCount: number; deliveries: Delivery[] };

export type NotifierDeps = {
  em: Em;
  inbox: NotificationInbox;
  settings: NotificationSettings;
  pushTokens: PushTokens;
  sockets: NamespacePort<typeof notificationServerEvents>;
  push: PushProvider;
  sms: SmsService;
  // Keyed by user and type; its window is the hour.
  pushLimiter: Limiter;
  // A declared type's own limit (its pushLimit), in place of pushLimiter; same keys.
  typePushLimiters?: ReadonlyMap<string, Limiter>;
  logger: Logger;
  // Quiet hours are read on this clock.
  clock: Clock;
};

export function createNotifier(deps: NotifierDeps) {
  // Resolves once every channel has an outcome. Provider failures become recorded outcomes, never
  // rejections; it rejects only for bad input or when the notification cannot be stored. A caller
  // that must not wait for FCM or CoolSMS (a request path) can let it run and log a rejection.
  async function notify(userId: string, input: NotifyInput): Promise<NotifyResult> {
    const parsed = notifyInput.safeParse(input);
    if (!parsed.success) throw validationError(parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message })));
    const { channels, ...fields } = parsed.data;

    const stored = await deps.inbox.store(userId, fields);
    const notification = deps.inbox.toDto(stored.notification);
    if (!stored.created) return { notification, created: false, unreadCount: stored.unreadCount, deliveries: [] };

    const presence = await deps.sockets.hasLiveSocket(userId).then(
      (online) => ({ online, doubt: undefined }),
      (err: unknown) => {
        const doubt = err instanceof Error ? err.message : String(err);
        // The message, not the Error: the line has to say why (a bus outage, a node that did not
        // answer), and the logger's scrubbing formatter copies enumerable fields only, which turns
        // an Error into `{}`.
        deps.logger.warn({ err: doubt, userId }, 'could not tell whether the user is online; treating the user as offline');
        return { online: false, doubt };
      },
    );
    const { online } = presence;
    deps.sockets.emitToUser(userId, 'notification', { notification, unreadCount: stored.unreadCount });

    // In doubt (the port gives up within a fraction of a second: Redis down, a node leaving), the
    // user counts as offline and is pushed to. That is when the socket path is the unreliable one:
    // the emit may not cross to the node holding the user's socket, so a push they did not need
    // beats one they never get. The push still obeys settings, quiet hours and the per-type limit,
    // and the socket catches up through resync once the bus is back. The doubt is recorded.
    const deliveries: Delivery[] = [
      presence.doubt
        ? { channel: 'socket', outcome: 'skipped_offline', detail: `presence unknown, treated as offline: ${presence.doubt}` }
        : { channel: 'socket', outcome: online ? 'delivered' : 'skipped_offline' },
    ];
    const settings = await deps.settings.effective(userId);
    const [push, sms] = await Promise.all([
      online ? [{ channel: 'push', outcome: 'skipped_online' } as Delivery] : pushTo(userId, stored.notification, settings),
      channels?.sms ? smsTo(userId, stored.notification, settings, channels.sms) : [],
    ]);
    deliveries.push(...push, ...sms);
    await record(stored.notification.id, deliveries);
    return { notification, created: true, unreadCount: stored.unreadCount, deliveries };
  }

  async function pushTo(userId: string, n: Notification, settings: EffectiveSettings): Promise<Delivery[]> {
    const skip = (outcome: DeliveryOutcome, detail?: string): Delivery[] => [{ channel: 'push', outcome, detail }];
    const blocked = settings.blocks(n.category, n.type);
    if (blocked === 'category') return skip('skipped_category_off', n.category);
    if (blocked === 'type') return skip('skipped_type_off', n.type);
    if (zoneCalendar(settings.timeZone).isQuietTime(settings.quietHours, deps.clock.now())) {
      return skip('skipped_quiet_hours', `${settings.quietHours!.start}-${settings.quietHours!.end} ${settings.timeZone}`);
    }
    const tokens = await deps.pushTokens.forUser(userId);
    if (tokens.length === 0) return skip('skipped_no_token');
    const limiter = deps.typePushLimiters?.get(n.type) ?? deps.pushLimiter;
    const retryAfter = await limiter.consume(`${userId}:${n.type}`);
    if (retryAfter !== null) return skip('skipped_rate_limited', `${n.type}: next push allowed in ${retryAfter} s`);

    const data = { notificationId: String(n.id), type: n.type, category: n.category, payload: JSON.stringify(n.data ?? {}) };
    return Promise.all(
      tokens.map(async (token): Promise<Delivery> => {
        const which = `token #${token.id}`;
        if (!deps.push.platforms.includes(token.platform)) return { channel: 'push', outcome: 'skipped_unsupported_platform', detail: `${which}: ${token.platform}` };
        const result = await deps.push.send({ token: token.token, title: n.title, body: n.body, data }).catch((err: unknown) => {
          deps.logger.error({ err, tokenId: token.id }, 'push driver failed');
          return { outcome: 'failed', code: 'internal_error', retryable: false } as const;
        });
        if (result.outcome === 'sent') return { channel: 'push', outcome: 'sent', detail: `${which}: ${result.offline ? 'OFFLINE ' : ''}${result.messageId}` };
        if (result.outcome === 'token_unregistered') {
          await deps.pushTokens.forget(token.id);
          return { channel: 'push', outcome: 'token_unregistered', detail: `${which}: ${result.code}; token deleted` };
        }
        return { channel: 'push', outcome: 'failed', detail: `${which}: ${result.code}` };
      }),
    );
  }

  // The caller asked for an SMS (a number the user gave for this purpose): only the category and
  // type switches apply, not quiet hours or the push limit, because the text is the product (rizz's
  // report link), not a nudge.
  async function smsTo(userId: string, n: Notification, settings: EffectiveSettings, sms: { phone: string; text?: string }): Promise<Delivery[]> {
    const blocked = settings.blocks(n.category, n.type);
    if (blocked === 'category') return [{ channel: 'sms', outcome: 'skipped_category_off', detail: n.category }];
    if (blocked === 'type') return [{ channel: 'sms', outcome: 'skipped_type_off', detail: n.type }];
    const text = sms.text ?? (n.body ? `${n.title}\n${n.body}` : n.title);
    try {
      const result = await deps.sms.send({ phone: sms.phone, text, purpose: `notification.${n.type}`.slice(0, 64), userId });
      return [{
        channel: 'sms',
        outcome: result.status === 'sent' ? 'sent' : 'failed',
        detail: result.status === 'sent' ? `${result.offline ? 'OFFLINE ' : ''}${result.messageId}` : `${result.error} after ${result.attempts} attempt(s)`,
      }];
    } catch (err) {
      deps.logger.warn({ err, notificationId: n.id }, 'sms for a notification failed');
      return [{ channel: 'sms', outcome: 'failed', detail: (err as { code?: string }).code ?? 'internal_error' }];
    }
  }

  async function record(notificationId: string, deliveries: Delivery[]): Promise<void> {
    try {
      const em = deps.em.fork();
      for (const d of deliveries) em.create(NotificationDelivery, { notificationId, channel: d.channel, outcome: d.outcome, detail: d.detail?.slice(0, 500) ?? null });
      await em.flush();
    } catch (err) {
      // The user has been notified by now; a lost delivery record must not turn that into an error.
      deps.logger.error({ err, notificationId }, 'could not record notification deliveries');
    }
  }

  return { notify };
}

export type Notifier = ReturnType<typeof createNotifier>;
