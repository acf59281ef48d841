// Social sign-in: each provider is one verifier that turns a provider token into a profile.
// Adding Apple, Kakao or Naver is one file in integrations/oauth/ and one line in server/context.ts.

export type OAuthProfile = {
  subject: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
};

export type OAuthVerifier = {
  provider: string;
  // Labels a development-only verifier so production refuses it (server/config.ts) and logs say so.
  offline: boolean;
  verify: (idToken: string) => Promise<OAuthProfile>;
};

export type OAuthVerifiers = Map<string, OAuthVerifier>;

export function oauthRegistry(verifiers: OAuthVerifier[]): OAuthVerifiers {
  return new Map(verifiers.map((v) => [v.provider, v]));
}
