// OFFLINE DRIVER — development only. Stands in for every social provider (google, apple, kakao,
// naver) when none is configured: tokens minted by POST /dev/oauth/:provider/token are accepted for
// that provider. An id_token for google and apple (apple's with the nonce claim the client asked
// for), an opaque access token for kakao and naver; each is checked the way the real provider's is.
// server/config.ts refuses to start in production while this driver is active.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthorized } from '../../services/errors.ts';
import { OAUTH_PROVIDERS, type OAuthProfile, type OAuthProvider, type OAuthVerifier } from '../../services/identity/oauth.ts';

const DEV_ISSUER = 'offline-dev-issuer';

export type DevProfile = {
  subject: string;
  email?: string;
  name?: string;
  // Apple's nonce claim: what the client passed to Apple, the SHA-256 (hex) of its raw nonce.
  nonce?: string;
};

export type DevToken = { idToken: string } | { accessToken: string };

export type DevIssuer = {
  verifierFor: (provider: OAuthProvider) => OAuthVerifier;
  mint: (provider: OAuthProvider, profile: DevProfile) => DevToken;
};

export function createDevIssuer(secret: string): DevIssuer {
  // A key of its own, so a dev token can never pass as one of our access tokens.
  const key = crypto.createSecretKey(crypto.createHmac('sha256', secret).update('offline-oauth-dev-issuer').digest());

  const mint: DevIssuer['mint'] = (provider, profile) => {
    const token = jwt.sign(
      // Naver's real profile API vouches for no email (integrations/oauth/naver.ts): neither does its stand-in.
      { email: profile.email, email_verified: Boolean(profile.email) && provider !== 'naver', name: profile.name, nonce: profile.nonce },
      key,
      { algorithm: 'HS256', issuer: DEV_ISSUER, audience: provider, subject: profile.subject, expiresIn: 600 },
    );
    // The signed payload is an implementation detail: for kakao and naver the client holds an opaque access token.
    return OAUTH_PROVIDERS[provider].credential === 'idToken' ? { idToken: token } : { accessToken: token };
  };

  const verifierFor = (provider: OAuthProvider): OAuthVerifier => ({
    provider,
    offline: true,
    ...OAUTH_PROVIDERS[provider],
    verify: async (token): Promise<OAuthProfile> => {
      let c: jwt.JwtPayload;
      try {
        c = jwt.verify(token, key, { algorithms: ['HS256'], issuer: DEV_ISSUER, audience: provider }) as jwt.JwtPayload;
      } catch {
        throw OAUTH_PROVIDERS[provider].credential === 'idToken'
          ? unauthorized('invalid_id_token', 'ID token was not issued by the offline dev issuer')
          : unauthorized('invalid_access_token', 'Access token was not issued by the offline dev issuer');
      }
      return { subject: String(c.sub), email: c.email, emailVerified: c.email_verified === true, name: c.name, nonce: c.nonce };
    },
  });

  return { verifierFor, mint };
}
