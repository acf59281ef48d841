// OFFLINE SMS driver, for development only (production refuses it in server/config.ts): nothing is
// sent; each message lands in offline_outbox and in a log line with its text and the number masked.
// Every result says offline: true.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { maskPhone } from '../mask.ts';
import { writeOfflineOutbox } from '../offlineOutbox.ts';
import type { SmsProvider } from './index.ts';

export function createOfflineSms(deps: { em: EntityManager; logger: Logger }): SmsProvider {
  return {
    name: 'offline',
    offline: true,
    send: async (message, opts = {}) => {
      const to = maskPhone(message.to);
      const outboxId = await writeOfflineOutbox(deps.em, 'sms', { driver: 'offline', to, text: message.text });
      deps.logger.info({ driver: 'offline', outboxId, to, text: message.text }, 'OFFLINE SMS driver: written to offline_outbox, not sent');
      const messageId = `offline-outbox-${outboxId}`;
      await opts.onAttempt?.({ attempt: 1, ok: true, messageId });
      return { messageId, offline: true };
    },
  };
}
