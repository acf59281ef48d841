// OFFLINE push driver, for development only (production refuses it in server/config.ts): nothing
// leaves the machine; each message lands in offline_outbox with the token masked, plus a log line.
// Every result says offline: true.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { maskToken } from '../mask.ts';
import { writeOfflineOutbox } from '../offlineOutbox.ts';
import type { PushProvider } from './index.ts';

export function createOfflinePush(deps: { em: EntityManager; logger: Logger }): PushProvider {
  return {
    name: 'offline',
    offline: true,
    platforms: ['fcm', 'apns'],
    send: async (message) => {
      const tokenHint = maskToken(message.token);
      const outboxId = await writeOfflineOutbox(deps.em, 'push', { driver: 'offline', tokenHint, title: message.title, body: message.body, data: message.data });
      deps.logger.info({ driver: 'offline', outboxId, tokenHint, title: message.title }, 'OFFLINE push driver: written to offline_outbox, not sent');
      return { outcome: 'sent', messageId: `offline-outbox-${outboxId}`, offline: true };
    },
  };
}
