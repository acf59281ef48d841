// OFFLINE DRIVER route — development only, registered only while social sign-in runs on the
// offline dev issuer (never in production: server/config.ts refuses to start that way).
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { DevIssuer } from '../integrations/oauth/devIssuer.ts';

const devTokenBody = z.object({
  subject: z.string().min(1).max(200),
  email: z.email().optional(),
  name: z.string().max(100).optional(),
});

export function devOAuthRoutes(api: Api, deps: { devIssuer: DevIssuer; providers: string[] }): void {
  api.route({
    method: 'post', path: '/dev/oauth/:provider/token',
    summary: 'OFFLINE DEV ISSUER: mint an id_token to try POST /auth/oauth/:provider without the real provider',
    tags: ['development'], auth: 'none', rateLimit: 'strict',
    params: z.object({ provider: z.enum(deps.providers as [string, ...string[]]) }),
    body: devTokenBody,
    responses: { 200: { description: 'A dev id_token, valid for 10 minutes', schema: z.object({ idToken: z.string(), provider: z.string(), offline: z.literal(true) }) } },
    handler: ({ params, body }) => ({ body: { idToken: deps.devIssuer.mint(params.provider, body), provider: params.provider, offline: true } }),
  });
}
