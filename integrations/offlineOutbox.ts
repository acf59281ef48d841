// Where the offline push and SMS drivers put what they would have sent: a table a developer can
// read (select * from offline_outbox order by id desc), never a real device or phone.
import type { EntityManager } from '@mikro-orm/postgresql';
import { OfflineOutbox } from '../entities/platform/OfflineOutbox.ts';

export async function writeOfflineOutbox(em: EntityManager, channel: 'push' | 'sms', payload: Record<string, unknown>): Promise<string> {
  const fork = em.fork();
  const row = fork.create(OfflineOutbox, { channel, payload: { ...payload, offline: true } });
  await fork.flush();
  return row.id;
}
