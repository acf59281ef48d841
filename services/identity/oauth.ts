// Social sign-in: each provider is one verifier that turns a provider token into a profile.
// Adding a provider is one file in integrations/oauth/, its entry in OAUTH_PROVIDERS below and one
// line in server/context.ts.
import crypto from 'node:crypto';
import { unauthorized } from '../errors.ts';

export type OAuthProfile = {
  subject: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  // The id_token's `nonce` claim, for providers that bind a token to the client's request (apple).
  nonce?: string;
};

// What a provider's token is, and so which body field carries it and how it is checked.
export type OAuthProviderSpec = {
  // `idToken`: an OpenID Connect id_token (a JWT) verified against the provider's JWKS.
  // `accessToken`: an OAuth access token that only the provider can resolve, through its user-info API.
  credential: 'idToken' | 'accessToken';
  // `sha256`: the client sends its raw nonce, the token's `nonce` claim must be its SHA-256 (hex).
  // This is Apple's documented scheme, and it keeps a token taken from another app's sign-in useless here.
  nonce?: 'sha256';
};

// Every provider the platform can sign in with; which of them run is configuration (server/config.ts).
export const OAUTH_PROVIDERS = {
  google: { credential: 'idToken' },
  apple: { credential: 'idToken', nonce: 'sha256' },
  kakao: { credential: 'accessToken' },
  naver: { credential: 'accessToken' },
} as const satisfies Record<string, OAuthProviderSpec>;

export type OAuthProvider = keyof typeof OAUTH_PROVIDERS;

export type OAuthVerifier = OAuthProviderSpec & {
  provider: string;
  // Labels a development-only verifier so production refuses it (server/config.ts) and logs say so.
  offline: boolean;
  verify: (token: string) => Promise<OAuthProfile>;
};

export type OAuthVerifiers = Map<string, OAuthVerifier>;

export function oauthRegistry(verifiers: OAuthVerifier[]): OAuthVerifiers {
  return new Map(verifiers.map((v) => [v.provider, v]));
}

export function sha256Hex(value: string): string {
  return crypto.createHash('sha256').update(value).digest('hex');
}

// The token must carry sha256(raw nonce): a missing nonce on either side is as bad as a wrong one.
export function checkNonce(provider: string, claim: string | undefined, rawNonce: string | undefined): void {
  if (!rawNonce) throw unauthorized('nonce_required', `Sign-in with ${provider} needs the raw nonce the token was requested with (field nonce)`);
  const expected = Buffer.from(sha256Hex(rawNonce));
  const actual = Buffer.from(claim ?? '');
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
    throw unauthorized('invalid_nonce', 'The token was not issued for this nonce');
  }
}
