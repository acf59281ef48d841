// A fake of Kakao's user API (kapi.kakao.com) over real HTTP, in Kakao's wire format:
// GET /v1/user/access_token_info and GET /v2/user/me with `Authorization: Bearer <access token>`,
// 401 {"msg":"this access token does not exist","code":-401} for a token it does not know.
import crypto from 'node:crypto';
import { startFakeServer, type FakeServer } from './http.ts';

export type FakeKakaoUser = { id: number; email?: string; emailVerified?: boolean; emailValid?: boolean; nickname?: string };

export type FakeKakao = FakeServer & {
  // An access token for the user, issued to `appId` (default: the fake's own app).
  issueToken: (user: FakeKakaoUser, opts?: { appId?: number }) => string;
  expire: (token: string) => void;
  // 'down': every call answers 503, as Kakao does during an outage.
  mode: 'up' | 'down';
};

export async function startFakeKakao(opts: { appId: number }): Promise<FakeKakao> {
  const tokens = new Map<string, { user: FakeKakaoUser; appId: number }>();
  // The handler reads the returned object, so a test flips `mode` on it.
  let fake: FakeKakao;
  const server = await startFakeServer((req) => {
    if (fake.mode === 'down') return { status: 503, body: { msg: 'system is under maintenance', code: -9798 } };
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const grant = token ? tokens.get(token) : undefined;
    if (!grant) return { status: 401, body: { msg: 'this access token does not exist', code: -401 } };
    const { user, appId } = grant;
    if (req.method === 'GET' && req.path === '/v1/user/access_token_info') {
      return { status: 200, body: { id: user.id, expires_in: 21599, app_id: appId } };
    }
    if (req.method === 'GET' && req.path === '/v2/user/me') {
      return {
        status: 200,
        body: {
          id: user.id,
          connected_at: '2026-11-01T01:45:28Z',
          kakao_account: {
            profile_nickname_needs_agreement: false,
            profile: user.nickname === undefined ? undefined : { nickname: user.nickname, is_default_nickname: false },
            has_email: user.email !== undefined,
            email_needs_agreement: false,
            ...(user.email === undefined
              ? {}
              : { is_email_valid: user.emailValid ?? true, is_email_verified: user.emailVerified ?? true, email: user.email }),
          },
        },
      };
    }
    return { status: 404, body: { msg: 'not found', code: -1 } };
  });
  fake = Object.assign(server, {
    issueToken: (user: FakeKakaoUser, o: { appId?: number } = {}) => {
      const token = crypto.randomBytes(27).toString('base64url');
      tokens.set(token, { user, appId: o.appId ?? opts.appId });
      return token;
    },
    expire: (token: string) => void tokens.delete(token),
    mode: 'up' as 'up' | 'down',
  });
  return fake;
}
