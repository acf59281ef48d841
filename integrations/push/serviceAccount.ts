// A Google service-account key (the JSON file the Firebase or Google Cloud console downloads), given
// inline or as a path. Parsed once at start so that a broken key stops the process with the
// variable's name.
import fs from 'node:fs';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { ProviderCallError, fetchOnce, readJson } from '../http.ts';

export const serviceAccountSchema = z.object({
  project_id: z.string().min(1).optional(),
  private_key_id: z.string().optional(),
  private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  client_email: z.string().min(3),
  token_uri: z.url().optional(),
});
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

// Throws an Error whose message says what is wrong (never the key itself).
export function loadServiceAccount(source: { json?: string; file?: string }): ServiceAccount | undefined {
  let text = source.json;
  if (!text && source.file) {
    try {
      text = fs.readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON');
  }
  const parsed = serviceAccountSchema.safeParse(json);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
// Refresh this long before expiry, so a token never expires between the check and the call.
const EXPIRY_MARGIN_MS = 60_000;

// Google's OAuth 2.0 service-account flow, shared by every Google API we call (FCM, the Play
// Developer API): a JWT signed with the account's RSA key (RS256) is exchanged at the token
// endpoint for an access token, which is cached until shortly before it expires and refreshed by
// one request at a time. `invalidate` drops it after an API refused it (401).
export function createServiceAccountTokens(opts: { serviceAccount: ServiceAccount; scope: string; service: string; timeoutMs: number; tokenUrl?: string }) {
  const tokenUrl = opts.tokenUrl ?? opts.serviceAccount.token_uri ?? DEFAULT_TOKEN_URL;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchAccessToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const assertion = jwt.sign({ iss: opts.serviceAccount.client_email, scope: opts.scope, aud: tokenUrl, iat: now, exp: now + 3600 }, opts.serviceAccount.private_key, {
      algorithm: 'RS256',
      ...(opts.serviceAccount.private_key_id ? { keyid: opts.serviceAccount.private_key_id } : {}),
    });
    const res = await fetchOnce(tokenUrl, {
      service: opts.service,
      timeoutMs: opts.timeoutMs,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    });
    const body = (await readJson(res)) as { access_token?: string; expires_in?: number; error?: string } | undefined;
    if (!res.ok || !body?.access_token) {
      // invalid_grant / invalid_client: the key is wrong or revoked; retrying cannot help.
      throw new ProviderCallError(opts.service, `oauth_${body?.error ?? res.status}`, `token endpoint answered HTTP ${res.status}`, {
        status: res.status,
        retryable: res.status === 429 || res.status >= 500,
      });
    }
    cached = { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 - EXPIRY_MARGIN_MS };
    return body.access_token;
  }

  return {
    accessToken(): Promise<string> {
      if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached.token);
      pending ??= fetchAccessToken().finally(() => (pending = undefined));
      return pending;
    },
    invalidate(): void {
      cached = undefined;
    },
  };
}

export type ServiceAccountTokens = ReturnType<typeof createServiceAccountTokens>;
