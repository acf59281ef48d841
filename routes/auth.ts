// /auth: sign-up, sign-in, refresh, sign-out, the current user, and social sign-in.
import type { Api } from '../server/http/route.ts';
import type { AuthService } from '../services/identity/auth.ts';
import type { UserService } from '../services/identity/users.ts';
import {
  authResult, loginBody, logoutBody, oauthBody, oauthProviderParam, refreshBody, registerBody, updateMeBody, userDto,
} from '../services/identity/schemas.ts';

export function authRoutes(api: Api, deps: { auth: AuthService; users: UserService }): void {
  const meta = (userAgent: string) => ({ userAgent: userAgent || undefined });

  api.route({
    method: 'post', path: '/auth/register', summary: 'Create an account with email and password', tags: ['auth'],
    auth: 'none', rateLimit: 'strict', body: registerBody,
    responses: { 201: { description: 'Account created and signed in', schema: authResult }, 400: { description: 'Invalid input, or `app` names no app module' }, 409: { description: 'Email or username taken' } },
    handler: async ({ body, ctx }) => ({ status: 201, body: await deps.auth.register(body, meta(ctx.get('user-agent'))) }),
  });

  api.route({
    method: 'post', path: '/auth/login', summary: 'Sign in with email and password', tags: ['auth'],
    auth: 'none', rateLimit: 'strict', body: loginBody,
    responses: { 200: { description: 'Signed in', schema: authResult }, 401: { description: 'Wrong email or password' } },
    handler: async ({ body, ctx }) => ({ body: await deps.auth.login(body, meta(ctx.get('user-agent'))) }),
  });

  api.route({
    method: 'post', path: '/auth/refresh', summary: 'Exchange a refresh token for a new pair (the old one is spent)', tags: ['auth'],
    auth: 'none', rateLimit: 'strict', body: refreshBody,
    responses: {
      200: { description: 'New token pair', schema: authResult },
      401: { description: 'Invalid or expired; a spent token revokes its whole session (code refresh_token_reused)' },
    },
    handler: async ({ body }) => ({ body: await deps.auth.refresh(body.refreshToken) }),
  });

  api.route({
    method: 'post', path: '/auth/logout', summary: 'Sign out this session (or all sessions) and close its sockets', tags: ['auth'],
    auth: 'user', body: logoutBody,
    responses: { 204: { description: 'Signed out' } },
    handler: async ({ auth, body }) => {
      await deps.auth.logout(auth, body);
    },
  });

  api.route({
    method: 'get', path: '/auth/me', summary: 'The signed-in user', tags: ['auth'], auth: 'user',
    // Served from the per-node user cache that authentication already filled.
    usesDatabase: false,
    responses: { 200: { description: 'The user', schema: userDto } },
    handler: async ({ auth }) => ({ body: await deps.users.me(auth.userId) }),
  });

  api.route({
    method: 'patch', path: '/auth/me', summary: 'Change username or display name', tags: ['auth'], auth: 'user', body: updateMeBody,
    responses: { 200: { description: 'The updated user', schema: userDto }, 409: { description: 'Username taken' } },
    handler: async ({ auth, body }) => ({ body: await deps.users.updateMe(auth.userId, body) }),
  });

  api.route({
    method: 'post', path: '/auth/oauth/:provider',
    summary: 'Sign in with a provider token (google, apple: idToken; kakao, naver: accessToken; apple also nonce), as configured',
    tags: ['auth'], auth: 'none', rateLimit: 'strict', params: oauthProviderParam, body: oauthBody,
    responses: {
      200: { description: 'Signed in (account created, or linked by a provider-verified email, on first use)', schema: authResult },
      400: { description: 'The token field this provider takes is missing, or `app` names no app module' },
      401: { description: 'The token failed verification (or apple\'s nonce is missing or does not match)' },
      404: { description: 'Provider not configured' },
      503: { description: 'The provider could not be reached to verify the token' },
    },
    handler: async ({ params, body, ctx }) => ({ body: await deps.auth.oauthLogin(params.provider, body, meta(ctx.get('user-agent'))) }),
  });
}
