// OFFLINE DRIVER — development only. Stands in for a social provider when no client id is
// configured: tokens minted by POST /dev/oauth/:provider/token are accepted for that provider.
// server/config.ts refuses to start in production while this driver is active.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthorized } from '../../services/errors.ts';
import type { OAuthProfile, OAuthVerifier } from '../../services/identity/oauth.ts';

const DEV_ISSUER = 'offline-dev-issuer';

export type DevIssuer = {
  verifierFor: (provider: string) => OAuthVerifier;
  mint: (provider: string, profile: { subject: string; email?: string; name?: string }) => string;
};

export function createDevIssuer(secret: string): DevIssuer {
  // A key of its own, so a dev id_token can never pass as one of our access tokens.
  const key = crypto.createSecretKey(crypto.createHmac('sha256', secret).update('offline-oauth-dev-issuer').digest());

  const mint: DevIssuer['mint'] = (provider, profile) =>
    jwt.sign({ email: profile.email, email_verified: Boolean(profile.email), name: profile.name }, key, {
      algorithm: 'HS256',
      issuer: DEV_ISSUER,
      audience: provider,
      subject: profile.subject,
      expiresIn: 600,
    });

  const verifierFor = (provider: string): OAuthVerifier => ({
    provider,
    offline: true,
    verify: async (idToken): Promise<OAuthProfile> => {
      try {
        const c = jwt.verify(idToken, key, { algorithms: ['HS256'], issuer: DEV_ISSUER, audience: provider }) as jwt.JwtPayload;
        return { subject: String(c.sub), email: c.email, emailVerified: c.email_verified === true, name: c.name };
      } catch {
        throw unauthorized('invalid_id_token', 'ID token was not issued by the offline dev issuer');
      }
    },
  });

  return { verifierFor, mint };
}
