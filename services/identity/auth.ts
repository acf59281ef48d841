// Sign-up, sign-in, token refresh with rotation and reuse detection, sign-out, and social sign-in.
import crypto from 'node:crypto';
import argon2 from 'argon2';
import type { Logger } from 'pino';
import { User } from '../../entities/identity/User.ts';
import { Identity } from '../../entities/identity/Identity.ts';
import { RefreshToken } from '../../entities/identity/RefreshToken.ts';
import { RefreshTokenFamily } from '../../entities/identity/RefreshTokenFamily.ts';
import { AppError, badRequest, conflict, unauthorized } from '../errors.ts';
import type { RealtimePort } from '../realtime.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, isUniqueViolation, type Em } from '../transaction.ts';
import type { AuthResult, LoginInput, OAuthInput, RegisterInput } from './schemas.ts';
import type { TokenLifetimes, TokenService } from './tokens.ts';
import { assertActive, toUserDto } from './users.ts';
import { revokeFamilies } from './sessions.ts';
import { checkNonce, type OAuthVerifiers } from './oauth.ts';
import type { EmailCipher } from './emails.ts';
import type { SessionCache } from './sessionCache.ts';

export type AuthDeps = {
  em: Em;
  tokens: TokenService;
  realtime: RealtimePort;
  time: TimeFormatter;
  oauth: OAuthVerifiers;
  emails: EmailCipher;
  sessions: SessionCache;
  logger: Logger;
  // Every listed app module by name, with the token lifetimes it declares (undefined: the platform's).
  apps: ReadonlyMap<string, TokenLifetimes | undefined>;
};

export type ClientMeta = { userAgent?: string };

// OWASP's argon2id baseline (19 MiB, 2 passes): ~20-40 ms a hash on one core here.
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function createAuthService(deps: AuthDeps) {
  const { em, tokens, emails } = deps;
  // Verifying against a real hash when the email is unknown keeps both failures equally slow.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = () => (dummyHash ??= argon2.hash(crypto.randomBytes(16).toString('hex'), ARGON2_OPTIONS));

  const platformLifetimes: TokenLifetimes = { accessSeconds: tokens.accessTokenTtlSeconds, refreshSeconds: tokens.refreshTokenTtlSeconds };

  // The app a sign-in names, checked before any work (a password hash, a provider call) is spent on it.
  type SessionApp = { app: string | null; lifetimes: TokenLifetimes };
  function appOf(app: string | undefined): SessionApp {
    if (app === undefined) return { app: null, lifetimes: platformLifetimes };
    if (!deps.apps.has(app)) throw badRequest('unknown_app', `There is no app "${app}"`, 'app');
    return { app, lifetimes: deps.apps.get(app) ?? platformLifetimes };
  }

  // A stored session keeps its app for life; one whose module has left the list since falls back
  // to the platform's lifetimes rather than failing the refresh.
  const lifetimesOf = (app: string | null): TokenLifetimes => (app ? deps.apps.get(app) : undefined) ?? platformLifetimes;

  async function startSession(tx: Em, user: User, meta: ClientMeta, session: SessionApp): Promise<AuthResult> {
    const expiresAt = new Date(Date.now() + session.lifetimes.refreshSeconds * 1000);
    const family = tx.create(RefreshTokenFamily, {
      userId: user.id,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
      app: session.app,
      expiresAt,
    });
    const refresh = tokens.newRefreshToken();
    tx.create(RefreshToken, { familyId: family.id, userId: user.id, tokenHash: refresh.hash, expiresAt });
    await tx.flush();
    return issue(user, family.id, refresh.token, session.lifetimes);
  }

  function issue(user: User, sessionId: string, refreshToken: string, lifetimes: TokenLifetimes): AuthResult {
    return {
      user: toUserDto(user, deps.time, emails),
      accessToken: tokens.signAccess({ userId: user.id, role: user.role, sessionId }, lifetimes.accessSeconds),
      refreshToken,
      accessTokenExpiresIn: lifetimes.accessSeconds,
      refreshTokenExpiresIn: lifetimes.refreshSeconds,
    };
  }

  async function register(input: RegisterInput, meta: ClientMeta = {}): Promise<AuthResult> {
    const session = appOf(input.app);
    const passwordHash = await argon2.hash(input.password, ARGON2_OPTIONS);
    try {
      return await inTransaction(em, async (tx) => {
        const user = tx.create(User, { ...emails.seal(input.email), username: input.username, passwordHash, role: 'user' });
        await tx.flush();
        return startSession(tx, user, meta, session);
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // The constraint, not a prior SELECT, decides: two racing sign-ups cannot both win.
      const taken = await em.fork().findOne(User, { emailHash: emails.hash(input.email) });
      if (taken) throw conflict('email_taken', 'An account with this email already exists', 'email');
      throw conflict('username_taken', 'This username is taken', 'username');
    }
  }

  async function login(input: LoginInput, meta: ClientMeta = {}): Promise<AuthResult> {
    const session = appOf(input.app);
    const user = await em.findOne(User, { emailHash: emails.hash(input.email) });
    const hash = user?.passwordHash ?? (await getDummyHash());
    const ok = await argon2.verify(hash, input.password).catch(() => false);
    if (!user || !user.passwordHash || !ok) throw unauthorized('invalid_credentials', 'Email or password is incorrect');
    assertActive(user);
    return inTransaction(em, (tx) => startSession(tx, user, meta, session));
  }

  async function refresh(refreshToken: string): Promise<AuthResult> {
    const hash = tokens.hashRefreshToken(refreshToken);
    const outcome = await inTransaction(em, async (tx) => {
      // Spending the token is one guarded UPDATE: of two concurrent refreshes only one succeeds.
      const spent = await tx.execute<{ family_id: string; user_id: string; app: string | null }[]>(
        `update refresh_tokens t set spent_at = now()
           from refresh_token_families f
          where t.token_hash = ? and t.spent_at is null and t.expires_at > now()
            and f.id = t.family_id and f.revoked_at is null
          returning t.family_id, t.user_id, f.app`,
        [hash],
      );
      if (spent.length === 0) {
        const [known] = await tx.execute<{ family_id: string; user_id: string; spent_at: Date | null }[]>(
          'select family_id, user_id, spent_at from refresh_tokens where token_hash = ?',
          [hash],
        );
        if (known?.spent_at) {
          await revokeFamilies(tx, { familyId: known.family_id }, 'refresh_token_reuse');
          return { kind: 'reused' as const, familyId: known.family_id, userId: known.user_id };
        }
        return { kind: 'invalid' as const };
      }
      const { family_id: familyId, user_id: userId, app } = spent[0];
      const user = await tx.findOneOrFail(User, { id: userId });
      if (user.disabledAt) return { kind: 'invalid' as const };
      const lifetimes = lifetimesOf(app);
      const expiresAt = new Date(Date.now() + lifetimes.refreshSeconds * 1000);
      const next = tokens.newRefreshToken();
      tx.create(RefreshToken, { familyId, userId, tokenHash: next.hash, expiresAt });
      await tx.execute('update refresh_token_families set last_used_at = now(), expires_at = ? where id = ?', [expiresAt, familyId]);
      await tx.flush();
      return { kind: 'ok' as const, result: issue(user, familyId, next.token, lifetimes) };
    });
    if (outcome.kind === 'ok') return outcome.result;
    if (outcome.kind === 'reused') {
      deps.logger.warn({ sessionId: outcome.familyId }, 'refresh token reuse detected; session revoked');
      deps.sessions.revoked({ userId: outcome.userId, sessionId: outcome.familyId });
      await deps.realtime.disconnectSession(outcome.familyId);
      throw unauthorized('refresh_token_reused', 'Refresh token was already used; the session has been revoked');
    }
    throw unauthorized('invalid_refresh_token', 'Refresh token is invalid or expired');
  }

  // Signs out the current session, or every session of the user, and closes their sockets.
  async function logout(claims: { userId: string; sessionId: string }, opts: { allSessions: boolean }): Promise<void> {
    await inTransaction(em, (tx) =>
      revokeFamilies(tx, opts.allSessions ? { userId: claims.userId } : { familyId: claims.sessionId }, 'logout'),
    );
    deps.sessions.revoked(opts.allSessions ? { userId: claims.userId } : claims);
    if (opts.allSessions) await deps.realtime.disconnectUser(claims.userId);
    else await deps.realtime.disconnectSession(claims.sessionId);
  }

  async function oauthLogin(provider: string, input: OAuthInput, meta: ClientMeta = {}): Promise<AuthResult> {
    const session = appOf(input.app);
    const verifier = deps.oauth.get(provider);
    if (!verifier) throw new AppError(404, 'unknown_provider', `Sign-in with "${provider}" is not available`);
    const token = input[verifier.credential];
    if (!token) throw badRequest('token_required', `Sign-in with ${provider} takes the provider's ${verifier.credential}`, verifier.credential);
    const profile = await verifier.verify(token);
    if (verifier.nonce === 'sha256') checkNonce(provider, profile.nonce, input.nonce);
    const attempt = () =>
      inTransaction(em, async (tx) => {
        const identity = await tx.findOne(Identity, { provider, subject: profile.subject });
        let user: User | null = identity ? await tx.findOneOrFail(User, { id: identity.userId }) : null;
        if (!user) {
          // Link to an existing account only on an email the provider itself verified.
          const email = profile.email && profile.emailVerified ? emails.normalize(profile.email) : null;
          user = email ? await tx.findOne(User, { emailHash: emails.hash(email) }) : null;
          user ??= tx.create(User, {
            ...emails.seal(email),
            username: await freeUsername(tx, profile.email ?? profile.name ?? provider),
            displayName: profile.name ?? null,
            passwordHash: null,
            role: 'user',
          });
          tx.create(Identity, { userId: user.id, provider, subject: profile.subject, emailEncrypted: emails.seal(profile.email).emailEncrypted });
          await tx.flush();
        }
        assertActive(user);
        return startSession(tx, user, meta, session);
      });
    try {
      return await attempt();
    } catch (err) {
      // Two first sign-ins racing for one identity: the loser retries and finds the winner's row.
      if (isUniqueViolation(err)) return attempt();
      throw err;
    }
  }

  return { register, login, refresh, logout, oauthLogin };
}

export type AuthService = ReturnType<typeof createAuthService>;

async function freeUsername(tx: Em, seed: string): Promise<string> {
  const base = (seed.split('@')[0].toLowerCase().replace(/[^\p{L}\p{N}_.]/gu, '') || 'user').slice(0, 20).padEnd(3, '_');
  if (!(await tx.findOne(User, { username: base }))) return base;
  return `${base}_${crypto.randomBytes(3).toString('hex')}`;
}
