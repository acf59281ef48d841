// Naver Login: the app signs the user in with Naver's SDK and sends us the access token, which
// Naver's profile API (GET /v1/nid/me) resolves to the user. Naver's `id` is unique per Naver
// application, so a token another app obtained resolves to an id no account here holds.
//
// The profile API says neither which app a token belongs to nor whether the email was verified, so
// a Naver email never links to an existing account: it would let any Naver app that knows a user's
// token take over that user's account here by email. Naver sign-in finds accounts by its id alone.
import type { OAuthVerifier } from '../../services/identity/oauth.ts';
import { OAUTH_PROVIDERS } from '../../services/identity/oauth.ts';
import { getUserInfo, invalidAccessToken, providerUnavailable } from './userInfo.ts';

// Naver's result codes for a token it does not accept (024: authentication failed, 028: no token).
const TOKEN_REFUSED = new Set(['024', '028']);

export function createNaverVerifier(opts: { baseUrl: string; timeoutMs?: number }): OAuthVerifier {
  const base = opts.baseUrl.replace(/\/+$/, '');
  return {
    provider: 'naver',
    offline: false,
    ...OAUTH_PROVIDERS.naver,
    verify: async (accessToken) => {
      const body = await getUserInfo(`${base}/v1/nid/me`, accessToken, { service: 'naver', timeoutMs: opts.timeoutMs });
      const code = String(body.resultcode ?? '');
      if (TOKEN_REFUSED.has(code)) throw invalidAccessToken('naver');
      if (code !== '00') throw providerUnavailable('naver', new Error(`resultcode ${code}`));
      const r = (body.response ?? {}) as { id?: unknown; email?: unknown; nickname?: unknown; name?: unknown };
      if (typeof r.id !== 'string' || !r.id || r.id.length > 200) throw providerUnavailable('naver', new Error('no id in the profile'));
      const nickname = typeof r.nickname === 'string' ? r.nickname : typeof r.name === 'string' ? r.name : undefined;
      return { subject: r.id, email: typeof r.email === 'string' ? r.email : undefined, emailVerified: false, name: nickname };
    },
  };
}
