// A fake of Naver's profile API (openapi.naver.com) over real HTTP, in Naver's wire format:
// GET /v1/nid/me with `Authorization: Bearer <access token>` → {"resultcode":"00","message":"success",
// "response":{…}}; an unknown token → 401 {"resultcode":"024","message":"Authentication failed …"}.
import crypto from 'node:crypto';
import { startFakeServer, type FakeServer } from './http.ts';

export type FakeNaverUser = { id: string; email?: string; nickname?: string; name?: string };

export type FakeNaver = FakeServer & {
  issueToken: (user: FakeNaverUser) => string;
  mode: 'up' | 'down';
};

export async function startFakeNaver(): Promise<FakeNaver> {
  const tokens = new Map<string, FakeNaverUser>();
  // The handler reads the returned object, so a test flips `mode` on it.
  let fake: FakeNaver;
  const server = await startFakeServer((req) => {
    if (fake.mode === 'down') return { status: 500, body: { resultcode: '500', message: 'Internal Server Error' } };
    if (req.method !== 'GET' || req.path !== '/v1/nid/me') return { status: 404, body: { resultcode: '404', message: 'Not Found' } };
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? tokens.get(token) : undefined;
    if (!user) return { status: 401, body: { resultcode: '024', message: 'Authentication failed (인증 실패하였습니다.)' } };
    return { status: 200, body: { resultcode: '00', message: 'success', response: { ...user } } };
  });
  fake = Object.assign(server, {
    issueToken: (user: FakeNaverUser) => {
      // Naver's access tokens are long opaque strings, base64 with + and /.
      const token = `AAAAO${crypto.randomBytes(60).toString('base64')}`;
      tokens.set(token, user);
      return token;
    },
    mode: 'up' as 'up' | 'down',
  });
  return fake;
}
