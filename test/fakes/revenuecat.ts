// A fake of RevenueCat's REST API v1 (GET /v1/subscribers/{app_user_id}, Bearer secret key) and
// of its webhook deliveries (Authorization header + X-RevenueCat-Signature HMAC-SHA256).
// With `v2ApiKey`, also API v2's customer subscriptions list and the Web Billing cancel action
// (GET /v2/projects/{project_id}/customers/{customer_id}/subscriptions,
//  POST /v2/projects/{project_id}/subscriptions/{subscription_id}/actions/cancel), errors as v2 shapes them.
import crypto from 'node:crypto';
import { startFakeServer, type FakeServer } from './http.ts';

export type FakeRevenueCat = FakeServer & {
  setSubscription: (appUserId: string, productId: string, expiresDate: string | null) => void;
  webhook: (event: Record<string, unknown>, opts?: { authorization?: string; secret?: string }) => { body: string; headers: Record<string, string> };
  // The next `count` v1 subscriber requests fail with `status` (RevenueCat's { code, message } body).
  failSubscriberRequests: (count: number, status?: number) => void;
  // A subscription as API v2 lists it (store: rc_billing for Web Billing, app_store, play_store, …).
  setV2Subscription: (customerId: string, sub: { id: string; store: string; status?: string; productId?: string; periodEndsAt?: number }) => void;
  v2Subscriptions: Map<string, V2Sub[]>;
};

type V2Sub = { object: 'subscription'; id: string; customer_id: string; product_id: string; store: string; status: string; auto_renewal_status: string; current_period_ends_at: number | null };

export async function startFakeRevenueCat(opts: { apiKey: string; webhookAuth: string; webhookSecret: string; v2ApiKey?: string; projectId?: string }): Promise<FakeRevenueCat> {
  const subscribers = new Map<string, Record<string, { expires_date: string | null; purchase_date: string; store: string }>>();
  const v2Subscriptions = new Map<string, V2Sub[]>();
  let failures = { count: 0, status: 503 };
  const v2Error = (status: number, type: string, message: string) => ({ status, body: { object: 'error', type, message, retryable: status >= 500, doc_url: 'https://errors.rev.cat/' + type } });
  const server = await startFakeServer((req) => {
    if (opts.v2ApiKey && req.path.startsWith('/v2/')) {
      if (req.headers.authorization !== `Bearer ${opts.v2ApiKey}`) return v2Error(401, 'authentication_error', 'Invalid API key.');
      const list = /^\/v2\/projects\/([^/]+)\/customers\/([^/]+)\/subscriptions$/.exec(req.path);
      const cancel = /^\/v2\/projects\/([^/]+)\/subscriptions\/([^/]+)\/actions\/cancel$/.exec(req.path);
      if ((list ?? cancel) && opts.projectId && (list ?? cancel)![1] !== opts.projectId) return v2Error(404, 'resource_missing', 'Project not found.');
      if (req.method === 'GET' && list) {
        const items = v2Subscriptions.get(decodeURIComponent(list[2])) ?? [];
        return { status: 200, body: { object: 'list', items, next_page: null, url: req.path } };
      }
      if (req.method === 'POST' && cancel) {
        const sub = [...v2Subscriptions.values()].flat().find((x) => x.id === decodeURIComponent(cancel[2]));
        if (!sub) return v2Error(404, 'resource_missing', 'Subscription not found.');
        if (sub.store !== 'rc_billing') return v2Error(400, 'invalid_request', 'Only RevenueCat Web Billing subscriptions can be cancelled.');
        sub.auto_renewal_status = 'will_not_renew';
        return { status: 200, body: sub };
      }
      return v2Error(404, 'resource_missing', 'Not found.');
    }
    if (failures.count > 0 && req.path.startsWith('/v1/subscribers/')) {
      failures.count--;
      return { status: failures.status, body: { code: 7110, message: 'There was a problem connecting to the store.' } };
    }
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) return { status: 401, body: { code: 7225, message: 'Invalid API Key.' } };
    const m = /^\/v1\/subscribers\/([^/]+)$/.exec(req.path);
    if (req.method !== 'GET' || !m) return { status: 404, body: { code: 7259, message: 'Not found.' } };
    const subs = subscribers.get(decodeURIComponent(m[1])) ?? {};
    const entitlements = Object.fromEntries(Object.entries(subs).map(([productId, s]) => ['pro', { expires_date: s.expires_date, product_identifier: productId, purchase_date: s.purchase_date }]));
    return { status: 200, body: { request_date: new Date().toISOString(), subscriber: { original_app_user_id: decodeURIComponent(m[1]), entitlements, subscriptions: subs } } };
  });
  return Object.assign(server, {
    v2Subscriptions,
    failSubscriberRequests: (count: number, status = 503) => void (failures = { count, status }),
    setV2Subscription: (customerId: string, sub: { id: string; store: string; status?: string; productId?: string; periodEndsAt?: number }) => {
      v2Subscriptions.set(customerId, [...(v2Subscriptions.get(customerId) ?? []), {
        object: 'subscription', id: sub.id, customer_id: customerId, product_id: sub.productId ?? 'prod1a2b3c4d5e', store: sub.store,
        status: sub.status ?? 'active', auto_renewal_status: 'will_renew', current_period_ends_at: sub.periodEndsAt ?? null,
      }]);
    },
    setSubscription: (appUserId: string, productId: string, expiresDate: string | null) => {
      subscribers.set(appUserId, { ...subscribers.get(appUserId), [productId]: { expires_date: expiresDate, purchase_date: new Date().toISOString(), store: 'PLAY_STORE' } });
    },
    webhook: (event: Record<string, unknown>, o: { authorization?: string; secret?: string } = {}) => {
      const body = JSON.stringify({ api_version: '1.0', event });
      const signature = crypto.createHmac('sha256', o.secret ?? opts.webhookSecret).update(body).digest('hex');
      return { body, headers: { 'content-type': 'application/json', authorization: o.authorization ?? opts.webhookAuth, 'x-revenuecat-signature': signature } };
    },
  });
}
