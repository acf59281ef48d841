// The signed-in user's own account, and the admin switch that disables an account.
import { User } from '../../entities/identity/User.ts';
import { AppError, conflict, notFound, unauthorized } from '../errors.ts';
import type { RealtimePort } from '../realtime.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, isUniqueViolation, type Em } from '../transaction.ts';
import { revokeFamilies } from './sessions.ts';
import type { UpdateMeInput, UserDto } from './schemas.ts';
import type { UserCache } from './userCache.ts';
import type { SessionCache } from './sessionCache.ts';
import type { EmailCipher } from './emails.ts';

export function toUserDto(user: User, time: TimeFormatter, emails: EmailCipher): UserDto {
  return {
    id: user.id,
    email: emails.open(user.emailEncrypted),
    username: user.username,
    displayName: user.displayName ?? null,
    role: user.role,
    createdAt: time.format(user.createdAt),
  };
}

export function assertActive(user: User): void {
  if (user.disabledAt) throw new AppError(403, 'account_disabled', 'This account has been disabled');
}

export function createUserService(deps: { em: Em; time: TimeFormatter; realtime: RealtimePort; cache: UserCache; sessions: SessionCache; emails: EmailCipher }) {
  const { em, time, cache, emails } = deps;

  // Every authenticated request passes through here (server/http/route.ts), so it reads the cache.
  async function getActiveUser(userId: string): Promise<User> {
    const user = await cache.get(userId);
    if (!user) throw notFound('User');
    assertActive(user);
    return user;
  }

  // Every authenticated HTTP request: the token proved who signed it; this checks, from the two
  // per-node caches, that the account still exists and is enabled and that the session was not
  // signed out since. A deleted account is a 401 like a revoked session: the token is dead.
  async function authorize(claims: { userId: string; sessionId: string }): Promise<User> {
    const [user, live] = await Promise.all([cache.get(claims.userId), deps.sessions.isLive(claims.userId, claims.sessionId)]);
    if (!user) throw unauthorized('account_not_found', 'The account of this token no longer exists');
    assertActive(user);
    if (!live) throw unauthorized('session_revoked', 'This session has been signed out; sign in again');
    return user;
  }

  // The cache hands out one User object per load, so a DTO remembered per object is rebuilt
  // exactly when the row is reloaded, and /auth/me skips the email decryption on every other call.
  const dtos = new WeakMap<User, UserDto>();

  async function me(userId: string): Promise<UserDto> {
    const user = await getActiveUser(userId);
    let dto = dtos.get(user);
    if (!dto) dtos.set(user, (dto = Object.freeze(toUserDto(user, time, emails))));
    return dto;
  }

  async function updateMe(userId: string, input: UpdateMeInput): Promise<UserDto> {
    try {
      return await inTransaction(em, async (tx) => {
        const user = await tx.findOne(User, { id: userId });
        if (!user) throw notFound('User');
        assertActive(user);
        if (input.username !== undefined) user.username = input.username;
        if (input.displayName !== undefined) user.displayName = input.displayName;
        await tx.flush();
        return toUserDto(user, time, emails);
      }).finally(() => cache.invalidate(userId));
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('username_taken', 'This username is taken', 'username');
      throw err;
    }
  }

  // Disabling revokes every session and closes the user's sockets on every node at once.
  async function setDisabled(userId: string, disabled: boolean): Promise<UserDto> {
    const dto = await inTransaction(em, async (tx) => {
      const user = await tx.findOne(User, { id: userId });
      if (!user) throw notFound('User');
      user.disabledAt = disabled ? (user.disabledAt ?? new Date()) : null;
      if (disabled) await revokeFamilies(tx, { userId }, 'account_disabled');
      await tx.flush();
      return toUserDto(user, time, emails);
    });
    cache.invalidate(userId);
    if (disabled) deps.sessions.revoked({ userId });
    if (disabled) await deps.realtime.disconnectUser(userId);
    return dto;
  }

  return { getActiveUser, authorize, me, updateMe, setDisabled };
}

export type UserService = ReturnType<typeof createUserService>;
