// Kakao Login: the app signs the user in with Kakao's SDK and sends us the access token. Kakao's
// user API says whose it is (GET /v2/user/me) and which Kakao app it was issued to
// (GET /v1/user/access_token_info): a token another app obtained for the same person must not sign
// in here, so its app_id has to be one of ours (KAKAO_APP_IDS).
import type { OAuthVerifier } from '../../services/identity/oauth.ts';
import { OAUTH_PROVIDERS } from '../../services/identity/oauth.ts';
import { getUserInfo, invalidAccessToken } from './userInfo.ts';

export function createKakaoVerifier(opts: { appIds: string[]; baseUrl: string; timeoutMs?: number }): OAuthVerifier {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const call = { service: 'kakao', timeoutMs: opts.timeoutMs };
  return {
    provider: 'kakao',
    offline: false,
    ...OAUTH_PROVIDERS.kakao,
    verify: async (accessToken) => {
      const [info, me] = await Promise.all([
        getUserInfo(`${base}/v1/user/access_token_info`, accessToken, call),
        getUserInfo(`${base}/v2/user/me`, accessToken, call),
      ]);
      if (!opts.appIds.includes(String(info.app_id))) throw invalidAccessToken('kakao', 'was issued to another app');
      // Kakao's member number is a JSON number (a Long); kept as its decimal string.
      const id = typeof me.id === 'number' || typeof me.id === 'string' ? String(me.id) : '';
      if (!/^\d{1,20}$/.test(id) || String(info.id) !== id) throw invalidAccessToken('kakao', 'names no Kakao user');
      const account = (me.kakao_account ?? {}) as { email?: unknown; is_email_valid?: unknown; is_email_verified?: unknown; profile?: { nickname?: unknown } };
      const email = typeof account.email === 'string' ? account.email : undefined;
      return {
        subject: id,
        email,
        // is_email_valid is false once the address has expired or been given to someone else.
        emailVerified: Boolean(email) && account.is_email_verified === true && account.is_email_valid !== false,
        name: typeof account.profile?.nickname === 'string' ? account.profile.nickname : undefined,
      };
    },
  };
}
