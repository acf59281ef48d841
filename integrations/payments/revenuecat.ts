// RevenueCat REST API v1: the subscriber's current entitlements and subscriptions, looked up with
// the secret API key to confirm what a webhook says before acting on it.
import { fetchWithRetry, ProviderError } from '../http.ts';
import { PaymentProviderError } from './index.ts';

export type RevenueCatSubscription = {
  expires_date: string | null;
  purchase_date?: string;
  unsubscribe_detected_at?: string | null;
  billing_issues_detected_at?: string | null;
  store?: string;
};

export type RevenueCatSubscriber = {
  entitlements: Record<string, { expires_date: string | null; product_identifier: string; purchase_date?: string }>;
  subscriptions: Record<string, RevenueCatSubscription>;
};

export type RevenueCatClient = {
  offline: boolean;
  // null when the offline driver runs: there is no one to ask, and the caller says so.
  getSubscriber: (appUserId: string) => Promise<RevenueCatSubscriber | null>;
};

export function createRevenueCatClient(opts: { apiKey: string; baseUrl?: string; timeoutMs?: number }): RevenueCatClient {
  const baseUrl = opts.baseUrl ?? 'https://api.revenuecat.com';
  return {
    offline: false,
    getSubscriber: async (appUserId) => {
      try {
        const res = await fetchWithRetry(`${baseUrl}/v1/subscribers/${encodeURIComponent(appUserId)}`, {
          service: 'revenuecat',
          timeoutMs: opts.timeoutMs ?? 10_000,
          retries: 2,
          headers: { authorization: `Bearer ${opts.apiKey}`, accept: 'application/json' },
        });
        return ((await res.json()) as { subscriber: RevenueCatSubscriber }).subscriber;
      } catch (err) {
        if (err instanceof ProviderError) throw new PaymentProviderError('revenuecat', `http_${err.status ?? 'network'}`, err.message, { status: err.status, retryable: err.retryable, cause: err });
        throw err;
      }
    },
  };
}

// OFFLINE DRIVER — development only: no API to confirm with, so a verified webhook is taken as it is
// and every subscription it writes is marked as confirmed by the webhook alone.
export function createOfflineRevenueCatClient(): RevenueCatClient {
  return { offline: true, getSubscriber: async () => null };
}
