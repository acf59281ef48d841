// A per-node cache of user rows, read on every authenticated request: it lets each request check
// that the account is still enabled and what its role is now (not when the token was issued)
// without a Postgres round trip. Changes invalidate the entry on every node through the bus.
import { User } from '../../entities/identity/User.ts';
import { createBusCache, type BusCache } from '../busCache.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { Em } from '../transaction.ts';

export type UserCache = BusCache<User | null>;

export function createUserCache(deps: { em: Em; bus: InvalidationBus; ttlMs: number; maxEntries: number }): UserCache {
  return createBusCache({
    bus: deps.bus, topic: 'user', ttlMs: deps.ttlMs, maxEntries: deps.maxEntries,
    // A fork of its own: the cached row must not be an entity managed by some request's unit of work.
    load: (userId) => deps.em.fork().findOne(User, { id: userId }, { disableIdentityMap: true }),
  });
}
