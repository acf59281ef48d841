// Google Sign-In: id_tokens are RS256 JWTs verified against Google's JWKS.
import type { OAuthVerifier } from '../../services/identity/oauth.ts';
import { createJwksVerifier } from './jwks.ts';

export function createGoogleVerifier(opts: { clientIds: string[]; jwksUrl: string }): OAuthVerifier {
  return createJwksVerifier({
    provider: 'google',
    jwksUrl: opts.jwksUrl,
    issuers: ['accounts.google.com', 'https://accounts.google.com'],
    audiences: opts.clientIds,
    toProfile: (c) => ({
      subject: String(c.sub),
      email: typeof c.email === 'string' ? c.email : undefined,
      emailVerified: c.email_verified === true || c.email_verified === 'true',
      name: typeof c.name === 'string' ? c.name : undefined,
    }),
  });
}
