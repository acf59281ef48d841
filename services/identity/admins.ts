// Who holds the admin role. There is no HTTP route that grants it (a route would need an admin to
// make the first one); the operator's command line (server/admin.ts) calls this instead.
import { User, type UserRole } from '../../entities/identity/User.ts';
import { notFound } from '../errors.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { EmailCipher } from './emails.ts';
import type { UserCache } from './userCache.ts';

export type AdminEntry = { id: string; email: string | null; username: string; role: UserRole; disabled: boolean };

export function createAdminService(deps: { em: Em; cache: UserCache; emails: EmailCipher }) {
  const entry = (u: User): AdminEntry => ({ id: u.id, email: deps.emails.open(u.emailEncrypted), username: u.username, role: u.role, disabled: u.disabledAt != null });

  // `changed: false` when the account already had the role. Routes check the role on the cached
  // user row, not in the token, so invalidating that row makes every node (through the bus) apply
  // the change to the account's next request, its current access tokens included.
  async function setRole(email: string, role: UserRole): Promise<{ user: AdminEntry; changed: boolean }> {
    const result = await inTransaction(deps.em, async (tx) => {
      const user = await tx.findOne(User, { emailHash: deps.emails.hash(email) });
      if (!user) throw notFound('User');
      const changed = user.role !== role;
      user.role = role;
      await tx.flush();
      return { user: entry(user), changed };
    });
    if (result.changed) deps.cache.invalidate(result.user.id);
    return result;
  }

  async function list(): Promise<AdminEntry[]> {
    const admins = await deps.em.fork().find(User, { role: 'admin' }, { orderBy: { createdAt: 'asc' } });
    return admins.map(entry);
  }

  return {
    grant: (email: string) => setRole(email, 'admin'),
    revoke: (email: string) => setRole(email, 'user'),
    list,
  };
}

export type AdminService = ReturnType<typeof createAdminService>;
