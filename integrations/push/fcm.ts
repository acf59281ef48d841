// Firebase Cloud Messaging, HTTP v1 API. Authentication is Google's OAuth 2.0 service-account flow:
// a JWT signed with the account's RSA key (RS256) is exchanged at the token endpoint for an access
// token, which is cached until shortly before it expires and refreshed by one request at a time.
// https://firebase.google.com/docs/cloud-messaging/send/v1-api
import jwt from 'jsonwebtoken';
import type { Logger } from 'pino';
import { ProviderCallError, fetchOnce, readJson, retryAfterMs, withRetries, type RetryPolicy } from '../http.ts';
import type { PushMessage, PushProvider, PushResult } from './index.ts';
import type { ServiceAccount } from './serviceAccount.ts';

const SERVICE = 'fcm';
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
// Refresh this long before expiry, so a token never expires between the check and the send.
const EXPIRY_MARGIN_MS = 60_000;

export type FcmOptions = {
  serviceAccount: ServiceAccount;
  projectId?: string;
  endpoint?: string;
  tokenUrl?: string;
  timeoutMs: number;
  retry?: RetryPolicy;
  logger?: Logger;
};

type GoogleError = {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: { '@type'?: string; errorCode?: string; fieldViolations?: { field?: string; description?: string }[] }[];
  };
};

export function createFcmClient(opts: FcmOptions): PushProvider {
  const projectId = opts.projectId ?? opts.serviceAccount.project_id;
  if (!projectId) throw new Error('FCM needs a project id (FCM_PROJECT_ID or project_id in the service account)');
  const tokenUrl = opts.tokenUrl ?? opts.serviceAccount.token_uri ?? DEFAULT_TOKEN_URL;
  const sendUrl = `${(opts.endpoint ?? 'https://fcm.googleapis.com').replace(/\/$/, '')}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
  const retry = opts.retry ?? { retries: 3, baseDelayMs: 200 };
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchAccessToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const assertion = jwt.sign({ iss: opts.serviceAccount.client_email, scope: SCOPE, aud: tokenUrl, iat: now, exp: now + 3600 }, opts.serviceAccount.private_key, {
      algorithm: 'RS256',
      ...(opts.serviceAccount.private_key_id ? { keyid: opts.serviceAccount.private_key_id } : {}),
    });
    const res = await fetchOnce(tokenUrl, {
      service: SERVICE,
      timeoutMs: opts.timeoutMs,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    });
    const body = (await readJson(res)) as { access_token?: string; expires_in?: number; error?: string } | undefined;
    if (!res.ok || !body?.access_token) {
      // invalid_grant / invalid_client: the key is wrong or revoked; retrying cannot help.
      throw new ProviderCallError(SERVICE, `oauth_${body?.error ?? res.status}`, `token endpoint answered HTTP ${res.status}`, {
        status: res.status,
        retryable: res.status === 429 || res.status >= 500,
      });
    }
    cached = { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 - EXPIRY_MARGIN_MS };
    return body.access_token;
  }

  function accessToken(): Promise<string> {
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached.token);
    pending ??= fetchAccessToken().finally(() => (pending = undefined));
    return pending;
  }

  async function sendOnce(message: PushMessage): Promise<string> {
    const bearer = await accessToken();
    const res = await fetchOnce(sendUrl, {
      service: SERVICE,
      timeoutMs: opts.timeoutMs,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({
        message: {
          token: message.token,
          notification: { title: message.title, body: message.body },
          data: message.data,
          android: { priority: 'HIGH' },
          apns: { headers: { 'apns-priority': '10' }, payload: { aps: { sound: 'default' } } },
        },
      }),
    });
    const body = await readJson(res);
    if (res.ok) return String((body as { name?: unknown } | undefined)?.name ?? '');
    throw classify(res, body as GoogleError | undefined);
  }

  function classify(res: Response, body: GoogleError | undefined): FcmError {
    const status = res.status;
    const details = body?.error?.details ?? [];
    const fcmCode = details.find((d) => d['@type']?.endsWith('google.firebase.fcm.v1.FcmError'))?.errorCode;
    const code = fcmCode ?? body?.error?.status ?? `HTTP_${status}`;
    const message = body?.error?.message?.slice(0, 200) ?? `HTTP ${status}`;
    if (status === 401 && code !== 'THIRD_PARTY_AUTH_ERROR') {
      // The cached access token was refused (revoked, or the clock is off): fetch a new one and retry.
      cached = undefined;
      return new FcmError(code, 'access token refused', { status, retryable: true, deadToken: false });
    }
    // UNREGISTERED (404): the app was uninstalled or the token expired. An INVALID_ARGUMENT about
    // message.token: the token was never valid. Other INVALID_ARGUMENTs are about our payload and
    // must not cost the user their device.
    const tokenViolation = details.some((d) => d.fieldViolations?.some((v) => v.field === 'message.token'));
    const deadToken = code === 'UNREGISTERED' || (code === 'INVALID_ARGUMENT' && (tokenViolation || /registration token/i.test(message)));
    const retryable = status === 429 || status >= 500 || code === 'UNAVAILABLE' || code === 'INTERNAL' || code === 'QUOTA_EXCEEDED';
    return new FcmError(code, message, { status, retryable, deadToken, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) });
  }

  return {
    name: 'fcm',
    offline: false,
    platforms: ['fcm'],
    send: async (message): Promise<PushResult> => {
      try {
        const messageId = await withRetries(retry, () => sendOnce(message));
        return { outcome: 'sent', messageId, offline: false };
      } catch (err) {
        if (!(err instanceof ProviderCallError)) throw err;
        if (err instanceof FcmError && err.deadToken) return { outcome: 'token_unregistered', code: err.code };
        opts.logger?.warn({ provider: SERVICE, code: err.code, status: err.status }, 'push failed');
        return { outcome: 'failed', code: err.code, retryable: err.retryable };
      }
    },
  };
}

class FcmError extends ProviderCallError {
  readonly deadToken: boolean;
  constructor(code: string, message: string, opts: { status: number; retryable: boolean; deadToken: boolean; retryAfterMs?: number }) {
    super(SERVICE, code, message, opts);
    this.name = 'FcmError';
    this.deadToken = opts.deadToken;
  }
}
