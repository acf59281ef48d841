// A fake of RevenueCat's REST API v1 (GET /v1/subscribers/{app_user_id}, Bearer secret key) and
// of its webhook deliveries (Authorization header + X-RevenueCat-Signature HMAC-SHA256).
import crypto from 'node:crypto';
import { startFakeServer, type FakeServer } from './http.ts';

export type FakeRevenueCat = FakeServer & {
  setSubscription: (appUserId: string, productId: string, expiresDate: string | null) => void;
  webhook: (event: Record<string, unknown>, opts?: { authorization?: string; secret?: string }) => { body: string; headers: Record<string, string> };
};

export async function startFakeRevenueCat(opts: { apiKey: string; webhookAuth: string; webhookSecret: string }): Promise<FakeRevenueCat> {
  const subscribers = new Map<string, Record<string, { expires_date: string | null; purchase_date: string; store: string }>>();
  const server = await startFakeServer((req) => {
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) return { status: 401, body: { code: 7225, message: 'Invalid API Key.' } };
    const m = /^\/v1\/subscribers\/([^/]+)$/.exec(req.path);
    if (req.method !== 'GET' || !m) return { status: 404, body: { code: 7259, message: 'Not found.' } };
    const subs = subscribers.get(decodeURIComponent(m[1])) ?? {};
    const entitlements = Object.fromEntries(Object.entries(subs).map(([productId, s]) => ['pro', { expires_date: s.expires_date, product_identifier: productId, purchase_date: s.purchase_date }]));
    return { status: 200, body: { request_date: new Date().toISOString(), subscriber: { original_app_user_id: decodeURIComponent(m[1]), entitlements, subscriptions: subs } } };
  });
  return Object.assign(server, {
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
