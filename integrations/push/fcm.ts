// Firebase Cloud Messaging, HTTP v1 API. Authentication is Google's OAuth 2.0 service-account flow
// (createServiceAccountTokens in ./serviceAccount.ts).
// https://firebase.google.com/docs/cloud-messaging/send/v1-api
import type { Logger } from 'pino';
import { ProviderCallError, fetchOnce, readJson, retryAfterMs, withRetries, type RetryPolicy } from '../http.ts';
import type { PushMessage, PushProvider, PushResult } from './index.ts';
import { createServiceAccountTokens, type ServiceAccount } from './serviceAccount.ts';

const SERVICE = 'fcm';
const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

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
  const sendUrl = `${(opts.endpoint ?? 'https://fcm.googleapis.com').replace(/\/$/, '')}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
  const retry = opts.retry ?? { retries: 3, baseDelayMs: 200 };
  const tokens = createServiceAccountTokens({ serviceAccount: opts.serviceAccount, scope: SCOPE, service: SERVICE, timeoutMs: opts.timeoutMs, tokenUrl: opts.tokenUrl });

  async function sendOnce(message: PushMessage): Promise<string> {
    const bearer = await tokens.accessToken();
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
      tokens.invalidate();
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
