// A per-node cache of user rows, read on every authenticated request: it lets each request check
// that the account is still enabled and what its role is now (not when the token was issued)
// without a Postgres round trip. Changes invalidate the entry on every node through the bus; the
// TTL bounds staleness if an invalidation is lost.
import { User } from '../../entities/identity/User.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { Em } from '../transaction.ts';

const TOPIC = 'user';

export type UserCache = {
  get: (userId: string) => Promise<User | null>;
  invalidate: (userId: string) => void;
};

export function createUserCache(deps: { em: Em; bus: InvalidationBus; ttlMs: number; maxEntries: number }): UserCache {
  const entries = new Map<string, { user: User | null; expiresAt: number }>();
  const loading = new Map<string, Promise<User | null>>();
  // Bumped on invalidation so a load that started before it does not store the stale row.
  const generation = new Map<string, number>();

  deps.bus.subscribe(TOPIC, (userId) => {
    entries.delete(userId);
    generation.set(userId, (generation.get(userId) ?? 0) + 1);
  });

  async function load(userId: string): Promise<User | null> {
    const startedAt = generation.get(userId) ?? 0;
    // A fork of its own: the cached row must not be an entity managed by some request's unit of work.
    const user = await deps.em.fork().findOne(User, { id: userId }, { disableIdentityMap: true });
    if ((generation.get(userId) ?? 0) === startedAt) {
      if (entries.size >= deps.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(userId, { user, expiresAt: Date.now() + deps.ttlMs });
    }
    return user;
  }

  return {
    get: async (userId) => {
      const hit = entries.get(userId);
      if (hit && hit.expiresAt > Date.now()) return hit.user;
      let pending = loading.get(userId);
      if (!pending) {
        pending = load(userId).finally(() => loading.delete(userId));
        loading.set(userId, pending);
      }
      return pending;
    },
    invalidate: (userId) => deps.bus.publish(TOPIC, userId),
  };
}
