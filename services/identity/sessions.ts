// Sign-in sessions are refresh-token families; revoking one ends every token rotated from it.
import type { Em } from '../transaction.ts';

export async function revokeFamilies(tx: Em, where: { familyId: string } | { userId: string }, reason: string): Promise<void> {
  const [column, value] = 'familyId' in where ? ['id', where.familyId] : ['user_id', where.userId];
  await tx.execute(
    `update refresh_token_families set revoked_at = now(), revoked_reason = ? where ${column} = ? and revoked_at is null`,
    [reason, value],
  );
}

// Used by the socket handshake: a token of a disabled account or of a signed-out session is
// refused even while the JWT itself has not yet expired.
export async function isSessionLive(em: Em, userId: string, sessionId: string): Promise<boolean> {
  const rows = await em.execute<{ ok: boolean }[]>(
    `select true as ok from users u join refresh_token_families f on f.user_id = u.id
      where u.id = ? and f.id = ? and u.disabled_at is null and f.revoked_at is null and f.expires_at > now()`,
    [userId, sessionId],
  );
  return rows.length > 0;
}

// Expired sessions and those revoked more than a day ago go, with their tokens (on delete cascade).
// Revoked sessions are kept a day so that a replayed token still reads as "reused", not "unknown".
export async function purgeDeadSessions(em: Em): Promise<{ sessions: number; tokens: number }> {
  const tokens = await em.execute<{ n: string }[]>(
    `with gone as (delete from refresh_tokens where expires_at < now() - interval '1 day' returning 1) select count(*) as n from gone`,
  );
  const sessions = await em.execute<{ n: string }[]>(
    `with gone as (
       delete from refresh_token_families
        where expires_at < now() or revoked_at < now() - interval '1 day'
        returning 1)
     select count(*) as n from gone`,
  );
  return { sessions: Number(sessions[0].n), tokens: Number(tokens[0].n) };
}
