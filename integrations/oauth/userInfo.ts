// Providers whose sign-in token is an OAuth access token (Kakao, Naver): only the provider can say
// whose it is, so the token is resolved through its user-info API. One way to call such an API and
// to turn its failures into what a client may see: the provider refusing the token is the client's
// 401; the provider failing (5xx, timeouts, a body we cannot read) is our 503, never a 500.
import { AppError, unauthorized } from '../../services/errors.ts';
import { fetchWithRetry, ProviderError, readJson } from '../http.ts';

export type UserInfoCall = { service: string; timeoutMs?: number; retries?: number };

// Statuses that mean "this token is not good" rather than "the provider is not well".
const TOKEN_REFUSED = new Set([400, 401]);

export async function getUserInfo(url: string, accessToken: string, call: UserInfoCall): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    const res = await fetchWithRetry(url, {
      service: call.service,
      timeoutMs: call.timeoutMs ?? 5000,
      retries: call.retries ?? 2,
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    });
    body = await readJson(res);
  } catch (err) {
    if (err instanceof ProviderError && err.status !== undefined && TOKEN_REFUSED.has(err.status)) throw invalidAccessToken(call.service);
    throw providerUnavailable(call.service, err);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw providerUnavailable(call.service, new Error('not a JSON object'));
  return body as Record<string, unknown>;
}

export function invalidAccessToken(service: string, why = 'is invalid or expired'): AppError {
  return unauthorized('invalid_access_token', `The ${service} access token ${why}`);
}

export function providerUnavailable(service: string, err: unknown): AppError {
  // The same code as a JWKS that cannot be fetched (integrations/oauth/jwks.ts).
  return new AppError(503, 'provider_unavailable', `Could not reach ${service} to verify the sign-in`, {
    extra: { cause: (err as Error).name },
  });
}
