// Google Play subscriptions. Real-time developer notifications reach us as Pub/Sub push requests,
// which say only that a purchase token changed; what the subscription now is comes from the Play
// Developer API (purchases.subscriptionsv2.get), called with a service-account access token.
// https://developer.android.com/google/play/billing/rtdn-reference
// https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2
import { unauthorized } from '../../services/errors.ts';
import { createJwksVerifier } from '../oauth/jwks.ts';
import { ProviderCallError, fetchOnce, readJson, retryAfterMs, withRetries, type RetryPolicy } from '../http.ts';
import { createServiceAccountTokens, type ServiceAccount } from '../push/serviceAccount.ts';

const SERVICE = 'google-play';
const SCOPE = 'https://www.googleapis.com/auth/androidpublisher';

// SubscriptionPurchaseV2 (the fields we use).
export type PlaySubscriptionPurchase = {
  subscriptionState?: string;
  lineItems?: { productId?: string; expiryTime?: string; autoRenewingPlan?: { autoRenewEnabled?: boolean } }[];
  externalAccountIdentifiers?: { obfuscatedExternalAccountId?: string; obfuscatedExternalProfileId?: string };
  acknowledgementState?: string;
  linkedPurchaseToken?: string;
  latestOrderId?: string;
  testPurchase?: Record<string, unknown>;
  startTime?: string;
};

export function createPlayDeveloperClient(opts: { serviceAccount: ServiceAccount; baseUrl: string; timeoutMs: number; tokenUrl?: string; retry?: RetryPolicy }) {
  const base = `${opts.baseUrl.replace(/\/$/, '')}/androidpublisher/v3/applications`;
  const retry = opts.retry ?? { retries: 2, baseDelayMs: 200 };
  const tokens = createServiceAccountTokens({ serviceAccount: opts.serviceAccount, scope: SCOPE, service: SERVICE, timeoutMs: opts.timeoutMs, tokenUrl: opts.tokenUrl });

  async function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<Response> {
    return withRetries(retry, async () => {
      const res = await fetchOnce(url, {
        service: SERVICE, timeoutMs: opts.timeoutMs, method,
        headers: { authorization: `Bearer ${await tokens.accessToken()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (res.ok || [400, 404, 410].includes(res.status)) return res;
      const err = (await readJson(res)) as { error?: { status?: string; message?: string } } | undefined;
      // A refused access token (revoked, clock skew): fetch a new one and try again.
      if (res.status === 401) tokens.invalidate();
      throw new ProviderCallError(SERVICE, err?.error?.status ?? `HTTP_${res.status}`, `Play Developer API answered HTTP ${res.status}`, {
        status: res.status,
        retryable: res.status === 401 || res.status === 429 || res.status >= 500,
        retryAfterMs: retryAfterMs(res.headers.get('retry-after')),
      });
    });
  }

  return {
    // null: Play knows no such purchase (400 invalid, 404, or 410 for a token past its retention).
    async getSubscription(packageName: string, purchaseToken: string): Promise<PlaySubscriptionPurchase | null> {
      const res = await call('GET', `${base}/${encodeURIComponent(packageName)}/purchases/subscriptionsv2/tokens/${encodeURIComponent(purchaseToken)}`);
      if (!res.ok) return null;
      const body = await readJson(res);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ProviderCallError(SERVICE, 'bad_response', 'Play Developer API answered with no JSON object', { status: res.status, retryable: true });
      return body as PlaySubscriptionPurchase;
    },
    // A purchase left unacknowledged for three days is refunded by Google.
    async acknowledge(packageName: string, subscriptionId: string, purchaseToken: string): Promise<void> {
      const res = await call('POST', `${base}/${encodeURIComponent(packageName)}/purchases/subscriptions/${encodeURIComponent(subscriptionId)}/tokens/${encodeURIComponent(purchaseToken)}:acknowledge`, {});
      if (!res.ok) throw new ProviderCallError(SERVICE, `HTTP_${res.status}`, `acknowledge answered HTTP ${res.status}`, { status: res.status, retryable: false });
    },
  };
}

export type PlayDeveloperClient = ReturnType<typeof createPlayDeveloperClient>;

// Pub/Sub signs each push with an OIDC token of the push subscription's service account
// (Authorization: Bearer), for the audience set on the subscription; checked against Google's JWKS.
export function createPubSubPushVerifier(opts: { jwksUrl: string; audience: string; serviceAccountEmail: string; timeoutMs?: number }) {
  const jwks = createJwksVerifier({
    provider: 'google',
    jwksUrl: opts.jwksUrl,
    issuers: ['accounts.google.com', 'https://accounts.google.com'],
    audiences: [opts.audience],
    timeoutMs: opts.timeoutMs,
    toProfile: (c) => ({ subject: String(c.sub), email: typeof c.email === 'string' ? c.email : undefined, emailVerified: c.email_verified === true || c.email_verified === 'true' }),
  });
  return async (authorization: string | undefined): Promise<void> => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthorized('push_token_missing', 'Authorization: Bearer <Pub/Sub OIDC token> is required');
    const profile = await jwks.verify(token);
    if (!profile.emailVerified || profile.email?.toLowerCase() !== opts.serviceAccountEmail.toLowerCase()) {
      throw unauthorized('push_token_refused', 'The push token was not issued to the configured Pub/Sub service account');
    }
  };
}
