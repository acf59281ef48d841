// Access tokens (JWT, HS256 pinned) and opaque refresh tokens.
//
// jsonwebtoken re-derives a key from a string secret on every verify, which published benchmarks
// put at hundreds of µs; a prepared KeyObject avoids that (bench/http.ts measures the result).
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { unauthorized } from '../errors.ts';
import { USER_ROLES, type UserRole } from '../../entities/identity/User.ts';

export type AccessClaims = { userId: string; role: UserRole; sessionId: string; expiresAtMs: number };

// How long a session's tokens live: the platform's defaults, or what the app module a sign-in named
// declares (AppModule.tokenLifetimes in server/module.ts).
export type TokenLifetimes = { accessSeconds: number; refreshSeconds: number };

export type TokenService = {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  // ttlSeconds: the session's app's access lifetime; the platform default when omitted.
  signAccess: (claims: Omit<AccessClaims, 'expiresAtMs'>, ttlSeconds?: number) => string;
  verifyAccess: (token: string) => AccessClaims;
  newRefreshToken: () => { token: string; hash: string };
  hashRefreshToken: (token: string) => string;
};

const ACCESS_TYP = 'access';

const accessPayload = z.object({
  sub: z.uuid(),
  sid: z.uuid(),
  role: z.enum(USER_ROLES),
  typ: z.literal(ACCESS_TYP),
  exp: z.number(),
});

const VERIFIED_CACHE_MAX = 20_000;

export function createTokenService(opts: {
  secret: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}): TokenService {
  const key = crypto.createSecretKey(Buffer.from(opts.secret, 'utf8'));

  const signAccess = (claims: Omit<AccessClaims, 'expiresAtMs'>, ttlSeconds = opts.accessTokenTtlSeconds): string =>
    jwt.sign({ sid: claims.sessionId, role: claims.role, typ: ACCESS_TYP }, key, {
      algorithm: 'HS256',
      subject: claims.userId,
      issuer: opts.issuer,
      audience: opts.audience,
      expiresIn: ttlSeconds,
    });

  // A client presents the same access token on every request for its lifetime, so a verified
  // token's claims are remembered until it expires: the key is the whole token, signature included,
  // so only a byte-identical token that already passed verification can hit.
  const verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();

  const verifyAccess = (token: string): AccessClaims => {
    const hit = verified.get(token);
    if (hit) {
      if (hit.expiresAtMs > Date.now()) return hit.claims;
      verified.delete(token);
    }
    const claims = verifyAccessUncached(token);
    if (verified.size >= VERIFIED_CACHE_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { claims, expiresAtMs: claims.expiresAtMs });
    return claims;
  };

  const verifyAccessUncached = (token: string): AccessClaims => {
    let decoded: unknown;
    try {
      // Pinning the algorithm list is what refuses `none` and RS/HS confusion.
      decoded = jwt.verify(token, key, { algorithms: ['HS256'], issuer: opts.issuer, audience: opts.audience });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw unauthorized('token_expired', 'Access token has expired');
      throw unauthorized('invalid_token', 'Access token is invalid');
    }
    const parsed = accessPayload.safeParse(decoded);
    if (!parsed.success) throw unauthorized('invalid_token', 'Access token is not an access token');
    return { userId: parsed.data.sub, role: parsed.data.role, sessionId: parsed.data.sid, expiresAtMs: parsed.data.exp * 1000 };
  };

  const hashRefreshToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

  const newRefreshToken = () => {
    const token = `rt_${crypto.randomBytes(32).toString('base64url')}`;
    return { token, hash: hashRefreshToken(token) };
  };

  return {
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: opts.refreshTokenTtlSeconds,
    signAccess,
    verifyAccess,
    newRefreshToken,
    hashRefreshToken,
  };
}
