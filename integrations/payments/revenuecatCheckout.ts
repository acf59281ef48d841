// Subscription checkouts on RevenueCat Web Billing, for whichever module sells subscriptions there.
//
// RevenueCat has no public "create a checkout session" endpoint (a `/v1/checkouts` does not exist
// in its API). Its hosted web checkout is the Web Purchase Link of an offering,
// addressed to one customer by appending the App User ID: https://pay.rev.cat/<token>/<app_user_id>
// (?package_id= pre-selects the package). Creating a checkout is therefore: make sure the customer
// exists in RevenueCat (API v1 GET /v1/subscribers/{app_user_id}, which creates it when missing —
// the step that can fail and is retried), then hand out the customer's link. The purchase reaches us
// as RevenueCat's INITIAL_PURCHASE webhook on the same path as app-store purchases.
// Cancelling at period end uses API v2 (POST …/subscriptions/{id}/actions/cancel), which RevenueCat
// supports for Web Billing subscriptions only; App Store and Play subscriptions are cancelled by the
// user in the store, and the CANCELLATION webhook follows either way.
import crypto from 'node:crypto';
import { fetchWithRetry, ProviderError } from '../http.ts';
import { PaymentProviderError } from './index.ts';

// packageId: the offering's package the purchase link pre-selects.
export type CheckoutRequest = { checkoutId: string; appUserId: string; packageId: string };
export type CheckoutCreated = { checkoutUrl: string; offline: boolean };
// provider: cancelled through RevenueCat's API; store_managed: the user cancels in the app store;
// not_configured: no API v2 credentials here; offline: the sandbox sent the webhook itself.
export type CancelOutcome = 'provider' | 'store_managed' | 'not_configured' | 'offline';

export type RevenueCatCheckout = {
  offline: boolean;
  createCheckout: (req: CheckoutRequest) => Promise<CheckoutCreated>;
  cancelAtPeriodEnd: (req: { appUserId: string; productId: string; periodEnd: Date | null }) => Promise<CancelOutcome>;
};

type V2Subscription = { id: string; store: string; status: string; auto_renewal_status?: string; product_id?: string };

export function createRevenueCatCheckout(opts: {
  apiKey: string;
  baseUrl: string;
  purchaseLinkUrl: string;
  timeoutMs: number;
  v2?: { apiKey: string; projectId: string };
  // Each attempt gets this many quick retries (backoff with jitter) before the caller's slower retry takes over.
  retries?: number;
}): RevenueCatCheckout {
  const call = async (path: string, init: { method?: string; apiKey: string }) => {
    try {
      const res = await fetchWithRetry(`${opts.baseUrl}${path}`, {
        service: 'revenuecat',
        method: init.method ?? 'GET',
        timeoutMs: opts.timeoutMs,
        retries: opts.retries ?? 2,
        headers: { authorization: `Bearer ${init.apiKey}`, accept: 'application/json', ...(init.method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(init.method === 'POST' ? { body: '{}' } : {}),
      });
      return (await res.json()) as unknown;
    } catch (err) {
      if (err instanceof ProviderError) {
        throw new PaymentProviderError('revenuecat', revenueCatCode(err), 'RevenueCat API call failed', { status: err.status, retryable: err.retryable, cause: err });
      }
      throw err;
    }
  };

  return {
    offline: false,
    createCheckout: async ({ appUserId, packageId }) => {
      await call(`/v1/subscribers/${encodeURIComponent(appUserId)}`, { apiKey: opts.apiKey });
      const url = new URL(`${opts.purchaseLinkUrl.replace(/\/+$/, '')}/${encodeURIComponent(appUserId)}`);
      url.searchParams.set('package_id', packageId);
      return { checkoutUrl: url.toString(), offline: false };
    },
    cancelAtPeriodEnd: async ({ appUserId }) => {
      if (!opts.v2) return 'not_configured';
      const project = encodeURIComponent(opts.v2.projectId);
      const list = (await call(`/v2/projects/${project}/customers/${encodeURIComponent(appUserId)}/subscriptions`, { apiKey: opts.v2.apiKey })) as { items?: V2Subscription[] };
      const renewing = (list.items ?? []).filter((s) => s.status === 'active' && s.auto_renewal_status !== 'will_not_renew');
      const web = renewing.filter((s) => s.store === 'rc_billing');
      for (const s of web) await call(`/v2/projects/${project}/subscriptions/${encodeURIComponent(s.id)}/actions/cancel`, { method: 'POST', apiKey: opts.v2.apiKey });
      return web.length > 0 || renewing.length === 0 ? 'provider' : 'store_managed';
    },
  };
}

// OFFLINE DRIVER — development only. The checkout is a page of this server (the module serves it
// at checkoutPageUrl); its Approve button, and a cancellation, send a
// RevenueCat-format webhook signed with the sandbox's derived secret to POST /webhooks/revenuecat,
// the path RevenueCat's own webhooks take. Every result says offline.
export function createOfflineRevenueCatCheckout(opts: {
  webhookUrl: () => string;
  webhookSecret: string;
  // Sent as RevenueCat sends its dashboard-configured Authorization header, when one is configured.
  webhookAuthorization?: string;
  checkoutPageUrl: (checkoutId: string) => string;
  periodDays?: number;
}): RevenueCatCheckout & {
  sendEvent: (event: { type: 'INITIAL_PURCHASE' | 'CANCELLATION' | 'EXPIRATION'; appUserId: string; productId: string; entitlementIds: string[]; expiresAt: Date | null }) => Promise<number>;
  purchase: (req: { appUserId: string; productId: string; entitlementIds: string[] }) => Promise<number>;
} {
  async function sendEvent(e: { type: string; appUserId: string; productId: string; entitlementIds: string[]; expiresAt: Date | null }): Promise<number> {
    const body = JSON.stringify({
      api_version: '1.0',
      event: {
        id: crypto.randomUUID(), type: e.type, app_user_id: e.appUserId, product_id: e.productId, entitlement_ids: e.entitlementIds,
        event_timestamp_ms: Date.now(), expiration_at_ms: e.expiresAt?.getTime() ?? null, environment: 'SANDBOX', store: 'RC_BILLING', offline: true,
      },
    });
    const signature = crypto.createHmac('sha256', opts.webhookSecret).update(body).digest('hex');
    const res = await fetch(opts.webhookUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-revenuecat-signature': signature, ...(opts.webhookAuthorization ? { authorization: opts.webhookAuthorization } : {}) },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.status;
  }

  return {
    offline: true,
    createCheckout: async ({ checkoutId }) => ({ checkoutUrl: opts.checkoutPageUrl(checkoutId), offline: true }),
    cancelAtPeriodEnd: async ({ appUserId, productId, periodEnd }) => {
      await sendEvent({ type: 'CANCELLATION', appUserId, productId, entitlementIds: [], expiresAt: periodEnd });
      return 'offline';
    },
    sendEvent,
    purchase: ({ appUserId, productId, entitlementIds }) =>
      sendEvent({ type: 'INITIAL_PURCHASE', appUserId, productId, entitlementIds, expiresAt: new Date(Date.now() + (opts.periodDays ?? 30) * 86_400_000) }),
  };
}

export type OfflineRevenueCatCheckout = ReturnType<typeof createOfflineRevenueCatCheckout>;

function revenueCatCode(err: ProviderError): string {
  try {
    const body = JSON.parse(err.responseBody ?? '') as { code?: number | string; type?: string };
    if (body.code !== undefined) return `revenuecat_${body.code}`;
    if (body.type) return body.type;
  } catch {
    /* not JSON */
  }
  return `http_${err.status ?? 'network'}`;
}
