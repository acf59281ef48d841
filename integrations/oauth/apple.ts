// Sign in with Apple: id_tokens are RS256 JWTs verified against Apple's JWKS, for one of our client
// ids (the app's bundle id, or a Services ID for the web). Apple puts no name in the token (the app
// gets it once, on the device), and binds the token to the client's request with a nonce: the
// `nonce` claim is the SHA-256 of the raw nonce, which the auth service checks.
import type { OAuthVerifier } from '../../services/identity/oauth.ts';
import { createJwksVerifier } from './jwks.ts';

export const APPLE_ISSUER = 'https://appleid.apple.com';

export function createAppleVerifier(opts: { clientIds: string[]; jwksUrl: string }): OAuthVerifier {
  return createJwksVerifier({
    provider: 'apple',
    jwksUrl: opts.jwksUrl,
    issuers: [APPLE_ISSUER],
    audiences: opts.clientIds,
    nonce: 'sha256',
    toProfile: (c) => ({
      subject: String(c.sub),
      email: typeof c.email === 'string' ? c.email : undefined,
      // Apple sends booleans as strings in some tokens ("true"); a private relay address is verified too.
      emailVerified: c.email_verified === true || c.email_verified === 'true',
      nonce: typeof c.nonce === 'string' ? c.nonce : undefined,
    }),
  });
}
