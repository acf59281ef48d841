// Bearer-token authentication for HTTP routes. Verification is stateless (signature, issuer,
// audience, expiry, type); routes that load the user also refuse disabled accounts.
import type { Context } from 'koa';
import { forbidden, unauthorized } from '../../services/errors.ts';
import type { AccessClaims, TokenService } from '../../services/identity/tokens.ts';
import type { UserRole } from '../../entities/identity/User.ts';

export type RouteAuth = 'none' | 'user' | 'admin';

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

// The token proves who is asking; the account's current row and its session (cached per node,
// invalidated on change) decide whether it may: a sign-out, a disabled account or a revoked admin
// role takes effect at once, not when the 30-minute token expires.
export type SessionCheck = (claims: AccessClaims) => Promise<{ role: UserRole }>;

export async function authenticate(ctx: Context, deps: { tokens: TokenService; activeSession: SessionCheck }, mode: RouteAuth): Promise<AccessClaims | undefined> {
  if (mode === 'none') return undefined;
  const token = bearerToken(ctx.get('authorization'));
  if (!token) throw unauthorized('missing_token', 'Send an access token as "Authorization: Bearer <token>"');
  const verified = deps.tokens.verifyAccess(token);
  const user = await deps.activeSession(verified);
  const claims = { ...verified, role: user.role };
  if (mode === 'admin' && claims.role !== 'admin') throw forbidden('admin_only', 'This route requires the admin role');
  ctx.state.auth = claims;
  return claims;
}
