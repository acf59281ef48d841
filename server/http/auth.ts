// Bearer-token authentication for HTTP routes. Verification is stateless (signature, issuer,
// audience, expiry, type); routes that load the user also refuse disabled accounts.
import type { Context } from 'koa';
import { forbidden, unauthorized } from '../../services/errors.ts';
import type { AccessClaims, TokenService } from '../../services/identity/tokens.ts';

export type RouteAuth = 'none' | 'user' | 'admin';

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export function authenticate(ctx: Context, tokens: TokenService, mode: RouteAuth): AccessClaims | undefined {
  if (mode === 'none') return undefined;
  const token = bearerToken(ctx.get('authorization'));
  if (!token) throw unauthorized('missing_token', 'Send an access token as "Authorization: Bearer <token>"');
  const claims = tokens.verifyAccess(token);
  if (mode === 'admin' && claims.role !== 'admin') throw forbidden('admin_only', 'This route requires the admin role');
  ctx.state.auth = claims;
  return claims;
}
