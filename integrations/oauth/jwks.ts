// Verifies an OpenID Connect id_token against the provider's published JWKS (Google, Apple).
// Keys are cached for the max-age the provider sends; an unknown `kid` triggers one refetch,
// at most once a minute, because providers rotate keys without notice.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthorized } from '../../services/errors.ts';
import type { OAuthProfile, OAuthVerifier } from '../../services/identity/oauth.ts';
import { fetchWithRetry } from '../http.ts';
import { providerUnavailable } from './userInfo.ts';

type Jwk = crypto.JsonWebKey & { kid?: string; alg?: string; use?: string };

export type JwksVerifierOptions = {
  provider: string;
  jwksUrl: string;
  issuers: string[];
  audiences: string[];
  // Apple's: the `nonce` claim must be the SHA-256 of the raw nonce the client sends (checked by the auth service).
  nonce?: 'sha256';
  timeoutMs?: number;
  // How soon an unknown `kid` may trigger another fetch; bounds what forged tokens can cost us.
  minRefetchMs?: number;
  toProfile: (claims: Record<string, unknown>) => OAuthProfile;
  // The clock behind key expiry and the refetch window; tests pass one they can move.
  now?: () => number;
};

const MIN_REFETCH_MS = 60_000;
const DEFAULT_MAX_AGE_MS = 60 * 60 * 1000;

export function createJwksVerifier(opts: JwksVerifierOptions): OAuthVerifier {
  let keys = new Map<string, crypto.KeyObject>();
  let expiresAt = 0;
  let lastFetch = 0;
  let inflight: Promise<void> | undefined;
  const now = opts.now ?? Date.now;

  async function load(): Promise<void> {
    lastFetch = now();
    const res = await fetchWithRetry(opts.jwksUrl, { timeoutMs: opts.timeoutMs ?? 5000, retries: 2, service: opts.provider });
    const body = (await res.json()) as { keys?: Jwk[] };
    const next = new Map<string, crypto.KeyObject>();
    for (const jwk of body.keys ?? []) {
      if (!jwk.kid || jwk.kty !== 'RSA') continue;
      next.set(jwk.kid, crypto.createPublicKey({ key: jwk, format: 'jwk' }));
    }
    keys = next;
    const maxAge = /max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1];
    expiresAt = now() + (maxAge ? Number(maxAge) * 1000 : DEFAULT_MAX_AGE_MS);
  }

  async function keyFor(kid: string): Promise<crypto.KeyObject | undefined> {
    const stale = now() > expiresAt;
    const unknown = !keys.has(kid) && now() - lastFetch > (opts.minRefetchMs ?? MIN_REFETCH_MS);
    if (stale || unknown) {
      inflight ??= load().finally(() => (inflight = undefined));
      await inflight;
    }
    return keys.get(kid);
  }

  async function verify(idToken: string): Promise<OAuthProfile> {
    const decoded = jwt.decode(idToken, { complete: true });
    const kid = decoded?.header.kid;
    if (!decoded || !kid || decoded.header.alg !== 'RS256') throw unauthorized('invalid_id_token', 'ID token is malformed');
    let key: crypto.KeyObject | undefined;
    try {
      key = await keyFor(kid);
    } catch (err) {
      throw providerUnavailable(opts.provider, err);
    }
    if (!key) throw unauthorized('invalid_id_token', 'ID token was signed by an unknown key');
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(idToken, key, {
        algorithms: ['RS256'],
        issuer: opts.issuers as [string, ...string[]],
        audience: opts.audiences as [string, ...string[]],
      }) as jwt.JwtPayload;
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw unauthorized('id_token_expired', 'ID token has expired');
      throw unauthorized('invalid_id_token', `ID token is not valid for this app (${(err as Error).message})`);
    }
    if (typeof claims.sub !== 'string' || !claims.sub) throw unauthorized('invalid_id_token', 'ID token has no subject');
    return opts.toProfile(claims as Record<string, unknown>);
  }

  return { provider: opts.provider, offline: false, credential: 'idToken', nonce: opts.nonce, verify };
}
