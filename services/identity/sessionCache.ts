// Whether a sign-in session (a refresh-token family) is still live, per node, read on every
// authenticated request so that sign-out holds on HTTP as it does on sockets: logout, refresh-token
// reuse and disabling an account revoke families and then call `revoked`, which every node hears
// through the bus within a second. The TTL bounds how long a lost invalidation (Redis down) can let
// a revoked access token through.
import { createBusCache } from '../busCache.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { Em } from '../transaction.ts';
import { isSessionLive } from './sessions.ts';

export type SessionCache = {
  isLive: (userId: string, sessionId: string) => Promise<boolean>;
  // After the revoking transaction has committed: one session, or every session of the user.
  revoked: (where: { userId: string; sessionId?: string }) => void;
};

const USER_TOPIC = 'session.user';

export function createSessionCache(deps: { em: Em; bus: InvalidationBus; ttlMs: number; maxEntries: number }): SessionCache {
  const keyOf = (userId: string, sessionId: string) => `${userId}:${sessionId}`;
  // The cached sessions of each user, so that "every session of this user" finds them on each node.
  const byUser = new Map<string, Set<string>>();
  const sessions = createBusCache<boolean>({
    bus: deps.bus, topic: 'session', ttlMs: deps.ttlMs, maxEntries: deps.maxEntries,
    load: (key) => {
      const [userId, sessionId] = key.split(':');
      let held = byUser.get(userId);
      if (!held) byUser.set(userId, (held = new Set()));
      held.add(key);
      return isSessionLive(deps.em.fork(), userId, sessionId);
    },
    onForget: (key) => {
      const userId = key.split(':')[0];
      const held = byUser.get(userId);
      held?.delete(key);
      if (held?.size === 0) byUser.delete(userId);
    },
  });
  deps.bus.subscribe(USER_TOPIC, (userId) => {
    for (const key of [...(byUser.get(userId) ?? [])]) sessions.forget(key);
  });

  return {
    isLive: (userId, sessionId) => sessions.get(keyOf(userId, sessionId)),
    revoked: ({ userId, sessionId }) => {
      if (sessionId) sessions.invalidate(keyOf(userId, sessionId));
      else deps.bus.publish(USER_TOPIC, userId);
    },
  };
}
