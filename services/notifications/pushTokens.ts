// Device push tokens. Registering is an upsert on the token: the app calls it on every start (the
// last-seen time says which tokens are alive), and a device that changes accounts moves its token.
import { PushToken } from '../../entities/notifications/PushToken.ts';
import { notFound } from '../errors.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { PushTokenDto, PushTokenInput } from './schemas.ts';

// A user's oldest tokens beyond this are dropped: every push fans out to all of them.
const MAX_TOKENS_PER_USER = 20;

export function createPushTokens(deps: { em: Em; time: TimeFormatter }) {
  const toDto = (t: { id: string; platform: PushToken['platform']; createdAt: Date; lastSeenAt: Date }): PushTokenDto => ({
    id: String(t.id),
    platform: t.platform,
    createdAt: deps.time.format(new Date(t.createdAt)),
    lastSeenAt: deps.time.format(new Date(t.lastSeenAt)),
  });

  async function register(userId: string, input: PushTokenInput): Promise<{ token: PushTokenDto; created: boolean }> {
    return inTransaction(deps.em.fork(), async (tx) => {
      const [row] = await tx.execute<{ id: string; platform: PushToken['platform']; created_at: Date; last_seen_at: Date; created: boolean }[]>(
        `insert into push_tokens (user_id, platform, token) values (?, ?, ?)
         on conflict (token) do update set user_id = excluded.user_id, platform = excluded.platform, last_seen_at = now()
         returning id, platform, created_at, last_seen_at, (xmax = 0) as created`,
        [userId, input.platform, input.token],
      );
      await tx.execute(
        `delete from push_tokens where user_id = ? and id not in (
           select id from push_tokens where user_id = ? order by last_seen_at desc, id desc limit ?)`,
        [userId, userId, MAX_TOKENS_PER_USER],
      );
      return { token: toDto({ id: row.id, platform: row.platform, createdAt: row.created_at, lastSeenAt: row.last_seen_at }), created: row.created };
    });
  }

  // Only the owner's token: someone else's answers 404, as if it did not exist.
  async function remove(userId: string, token: string): Promise<void> {
    const deleted = await deps.em.fork().nativeDelete(PushToken, { userId, token });
    if (!deleted) throw notFound('Push token');
  }

  async function forUser(userId: string): Promise<PushToken[]> {
    return deps.em.fork().find(PushToken, { userId }, { orderBy: { id: 'asc' } });
  }

  // Dropped when the provider says the token no longer reaches an install.
  async function forget(tokenId: string): Promise<void> {
    await deps.em.fork().nativeDelete(PushToken, { id: tokenId });
  }

  return { register, remove, forUser, forget };
}

export type PushTokens = ReturnType<typeof createPushTokens>;
