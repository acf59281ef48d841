// OFFLINE DRIVER route — development only, registered only while social sign-in runs on the
// offline dev issuer (never in production: server/config.ts refuses to start that way).
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { DevIssuer } from '../integrations/oauth/devIssuer.ts';
import { OAUTH_PROVIDERS, type OAuthProvider } from '../services/identity/oauth.ts';

const devTokenBody = z.object({
  subject: z.string().min(1).max(200),
  email: z.email().max(254).optional(),
  name: z.string().max(100).optional(),
  // Kakao's and Naver's word for the display name; wins over `name`.
  nickname: z.string().max(100).optional(),
  // apple: what the client passes to Apple, the SHA-256 (hex) of the raw nonce it then sends us.
  nonce: z.string().min(1).max(200).optional(),
});

export function devOAuthRoutes(api: Api, deps: { devIssuer: DevIssuer; providers: string[] }): void {
  const providers = deps.providers.filter((p): p is OAuthProvider => p in OAUTH_PROVIDERS);
  api.route({
    method: 'post', path: '/dev/oauth/:provider/token',
    summary: 'OFFLINE DEV ISSUER: mint a token to try POST /auth/oauth/:provider without the real provider (google, apple: idToken; kakao, naver: accessToken)',
    tags: ['development'], auth: 'none', rateLimit: 'strict',
    params: z.object({ provider: z.enum(providers as [OAuthProvider, ...OAuthProvider[]]) }),
    body: devTokenBody,
    responses: {
      200: {
        description: 'A dev token, valid for 10 minutes',
        schema: z.object({ idToken: z.string().optional(), accessToken: z.string().optional(), provider: z.string(), offline: z.literal(true) }),
      },
    },
    handler: ({ params, body }) => {
      const { nickname, ...profile } = body;
      const token = deps.devIssuer.mint(params.provider, { ...profile, name: nickname ?? profile.name });
      return { body: { ...token, provider: params.provider, offline: true as const } };
    },
  });
}
