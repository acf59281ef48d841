// Walk premium bought in the stores. Each store tells us about a subscription in its own way, and
// both end as one StoreChange handed to the walk subscription state (services/walk/subscription.ts),
// which orders, deduplicates and applies it:
//   - App Store Server Notifications V2: the state is in the notification, signed by Apple; we
//     believe it once the JWS chain and signature verify (integrations/payments/appStore.ts).
//   - Google Play real-time developer notifications (Pub/Sub push): the push proves only that
//     Google sent it (its OIDC token); the state is always read from the Play Developer API.
// Every verified event is recorded once in webhook_events under (provider, event id), in the
// transaction that applies it: of two deliveries at once, the second waits on the first's row and
// is a duplicate. Events that change nothing for us (another bundle or package, a user we do not know, a test
// notification) are answered 200 so the store stops redelivering; a bad signature or body is 4xx;
// only our database failing (or, for Play, the Play API) is 5xx, so the store delivers again.
import type { Logger } from 'pino';
import { APPLE_ROOT_CA_G3_PEM, AppleSignatureError, createAppStoreVerifier, parseRootCertificates, type AppStoreVerifier, type VerifiedAppStoreNotification } from '../../integrations/payments/appStore.ts';
import { createPlayDeveloperClient, createPubSubPushVerifier, type PlayDeveloperClient, type PlaySubscriptionPurchase } from '../../integrations/payments/googlePlay.ts';
import type { ServiceAccount } from '../../integrations/push/serviceAccount.ts';
import type { WebhookHeaders } from '../../integrations/payments/standardWebhooks.ts';
import { ProviderError } from '../../integrations/http.ts';
import { AppError, badRequest, unauthorized, unavailable, validationError } from '../errors.ts';
import { hostileStrings } from '../hostileInput.ts';
import type { Clock } from '../time.ts';
import type { Em } from '../transaction.ts';
import { recordWebhookEvent } from '../billing/webhooks.ts';
import type { StoreChange, StoreChangeOutcome } from './subscription.ts';

export type StoreWebhookOutcome = { duplicate: boolean; outcome: string };
// applyStoreChange of services/walk/subscription.ts, run in the transaction that records the event.
export type ApplyStoreChange = (change: StoreChange, tx: Em) => Promise<StoreChangeOutcome>;

export type AppStoreSettings = { verifier: AppStoreVerifier; bundleId: string; appAppleId?: number; environments: string[] };
export type GooglePlaySettings = { client: PlayDeveloperClient; verifyPush: (authorization: string | undefined) => Promise<void>; packageName: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Notification types whose transaction and renewal info say what the subscription now is.
const APPLE_CURRENT_STATE = new Set(['SUBSCRIBED', 'DID_RENEW', 'DID_CHANGE_RENEWAL_PREF', 'OFFER_REDEEMED', 'RENEWAL_EXTENDED', 'REFUND_REVERSED', 'DID_CHANGE_RENEWAL_STATUS']);

type ChangeWithoutUser = Omit<StoreChange, 'userId'> & { userId: string | undefined };

// What an App Store notification means for the subscription, or null when it changes nothing
// (TEST, CONSUMPTION_REQUEST, PRICE_INCREASE, a non-subscription purchase, …).
export function appStoreChange(v: VerifiedAppStoreNotification): ChangeWithoutUser | null {
  const { notification: n, transaction: t, renewal: r } = v;
  if (!t || typeof t.originalTransactionId !== 'string' || typeof t.productId !== 'string') return null;
  if (t.type !== undefined && t.type !== 'Auto-Renewable Subscription') return null;
  const eventAt = new Date(n.signedDate);
  let periodEnd = typeof t.expiresDate === 'number' ? new Date(t.expiresDate) : null;
  let status: StoreChange['status'];
  if (n.notificationType === 'REFUND' || n.notificationType === 'REVOKE' || typeof t.revocationDate === 'number') {
    // Refunded, or family sharing withdrawn: access ends when Apple revoked it.
    status = 'expired';
    periodEnd = typeof t.revocationDate === 'number' ? new Date(t.revocationDate) : eventAt;
  } else if (n.notificationType === 'EXPIRED' || n.notificationType === 'GRACE_PERIOD_EXPIRED') {
    status = 'expired';
  } else if (n.notificationType === 'DID_FAIL_TO_RENEW') {
    // In a billing grace period the user keeps access until it ends; without one, access stops now
    // (a later DID_RENEW with subtype BILLING_RECOVERY brings it back).
    const graceEnd = r?.gracePeriodExpiresDate;
    if (n.subtype === 'GRACE_PERIOD' && typeof graceEnd === 'number') {
      status = 'active';
      periodEnd = new Date(graceEnd);
    } else status = 'expired';
  } else if (APPLE_CURRENT_STATE.has(n.notificationType)) {
    // AUTO_RENEW_DISABLED (and any state with auto-renew off): access until the period ends.
    const autoRenewOff = n.subtype === 'AUTO_RENEW_DISABLED' || (n.subtype !== 'AUTO_RENEW_ENABLED' && r?.autoRenewStatus === 0);
    status = autoRenewOff ? 'cancelled' : 'active';
  } else return null;
  return {
    userId: typeof t.appAccountToken === 'string' ? t.appAccountToken : undefined,
    provider: 'app_store',
    productId: t.productId,
    externalId: t.originalTransactionId,
    status,
    periodEnd,
    eventId: n.notificationUUID,
    eventAt,
    environment: n.data?.environment ?? t.environment ?? null,
  };
}

// What a Play subscription's current state means, or null for states that grant nothing yet and
// take nothing away (pending payment, unspecified).
export function googlePlayChange(purchase: PlaySubscriptionPurchase, ids: { purchaseToken: string; eventId: string; readAt: Date }): ChangeWithoutUser | null {
  const items = Array.isArray(purchase.lineItems) ? purchase.lineItems : [];
  const productId = items.find((i) => typeof i.productId === 'string')?.productId;
  if (!productId) return null;
  const ends = items.map((i) => (i.expiryTime ? Date.parse(i.expiryTime) : NaN)).filter((t) => Number.isFinite(t));
  const periodEnd = ends.length ? new Date(Math.max(...ends)) : null;
  let status: StoreChange['status'];
  switch (purchase.subscriptionState) {
    case 'SUBSCRIPTION_STATE_ACTIVE':
    case 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD':
      status = 'active';
      break;
    case 'SUBSCRIPTION_STATE_CANCELED':
      // Cancelled by the user: access until the paid period ends.
      status = periodEnd && periodEnd > ids.readAt ? 'cancelled' : 'expired';
      break;
    case 'SUBSCRIPTION_STATE_ON_HOLD':
    case 'SUBSCRIPTION_STATE_PAUSED':
    case 'SUBSCRIPTION_STATE_EXPIRED':
      // Account hold and pause grant no access while they last; Play reports ACTIVE again after.
      status = 'expired';
      break;
    default:
      return null;
  }
  const environment = purchase.testPurchase ? 'Test' : 'Production';
  // eventAt is when we read this state: the later read is the newer state, whatever order the
  // notifications that made us read it came in.
  return {
    userId: purchase.externalAccountIdentifiers?.obfuscatedExternalAccountId,
    provider: 'google_play', productId, externalId: ids.purchaseToken, status, periodEnd, eventId: ids.eventId, eventAt: ids.readAt, environment,
  };
}

export function createStoreSubscriptionService(deps: {
  em: Em;
  clock: Clock;
  logger: Logger;
  applyStoreChange: ApplyStoreChange;
  appStore?: AppStoreSettings;
  googlePlay?: GooglePlaySettings;
}) {
  const { em, logger } = deps;

  // A redelivery of an event already recorded stops here, before a transaction (and, for Play,
  // before the API is asked); recordAndAct's unique insert is what decides between racing deliveries.
  async function alreadyRecorded(provider: string, eventId: string): Promise<boolean> {
    const rows = await em.fork().execute('select 1 from webhook_events where provider = ? and event_id = ?', [provider, eventId]);
    return rows.length > 0;
  }

  // Recorded once per (store, event id), acted on in the same transaction (services/billing/webhooks.ts).
  async function recordAndAct(provider: string, eventId: string, eventType: string, payload: unknown, act: (tx: Em) => Promise<string>): Promise<StoreWebhookOutcome> {
    const recorded = await recordWebhookEvent(em, { provider, eventId, eventType, payload }, act);
    // A first delivery whose change was already applied (the same change by another route) is a duplicate too.
    const result = { duplicate: recorded.duplicate || recorded.outcome === 'duplicate', outcome: recorded.outcome };
    if (result.outcome !== 'applied') logger.info({ provider, eventType, outcome: result.outcome }, 'store notification changed nothing');
    return result;
  }

  async function apply(tx: Em, change: ChangeWithoutUser): Promise<string> {
    // Not one of our user ids (a purchase made before the app set it, or another system's): the
    // subscription state could not place it, and Postgres would refuse it as a uuid.
    if (!change.userId || !UUID.test(change.userId)) return 'unknown_user';
    return deps.applyStoreChange({ ...change, userId: change.userId.toLowerCase() }, tx);
  }

  async function appStoreNotification(rawBody: Buffer): Promise<StoreWebhookOutcome> {
    const settings = deps.appStore;
    if (!settings) throw notConfigured('App Store', 'WALK_APPLE_BUNDLE_ID');
    const body = parseJson(rawBody) as { signedPayload?: unknown };
    if (typeof body?.signedPayload !== 'string' || body.signedPayload.length === 0) throw badRequest('invalid_webhook', 'signedPayload must be the notification JWS', 'signedPayload');
    let verified: VerifiedAppStoreNotification;
    try {
      verified = settings.verifier.verifyNotification(body.signedPayload);
    } catch (err) {
      if (err instanceof AppleSignatureError) throw unauthorized('invalid_signature', `App Store notification refused: ${err.message}`);
      throw err;
    }
    const n = verified.notification;
    if (await alreadyRecorded('app_store', n.notificationUUID)) return { duplicate: true, outcome: 'duplicate' };
    const eventType = n.subtype ? `${n.notificationType}.${n.subtype}` : n.notificationType;
    return recordAndAct('app_store', n.notificationUUID, eventType, verified, (tx) => appStoreOutcome(tx, settings, verified));
  }

  async function appStoreOutcome(tx: Em, settings: AppStoreSettings, v: VerifiedAppStoreNotification): Promise<string> {
    const data = v.notification.data;
    // Another app on the same App Store Connect account, or an environment this server does not serve.
    if (data?.bundleId !== settings.bundleId || (v.transaction && v.transaction.bundleId !== settings.bundleId)) return 'other_bundle';
    if (settings.appAppleId !== undefined && data.appAppleId !== undefined && data.appAppleId !== settings.appAppleId) return 'other_app';
    if (!settings.environments.includes(data.environment ?? '')) return 'other_environment';
    const change = appStoreChange(v);
    return change ? apply(tx, change) : 'ignored';
  }

  async function googlePlayNotification(rawBody: Buffer, headers: WebhookHeaders): Promise<StoreWebhookOutcome> {
    const settings = deps.googlePlay;
    if (!settings) throw notConfigured('Google Play', 'WALK_PLAY_PACKAGE_NAME, WALK_PLAY_SERVICE_ACCOUNT_JSON, WALK_PLAY_PUSH_AUDIENCE and WALK_PLAY_PUSH_SERVICE_ACCOUNT');
    const authorization = headers.authorization;
    await settings.verifyPush(Array.isArray(authorization) ? authorization[0] : authorization);
    const { messageId, notification } = parsePush(rawBody);
    if (await alreadyRecorded('google_play', messageId)) return { duplicate: true, outcome: 'duplicate' };
    const sub = notification.subscriptionNotification;
    const voided = notification.voidedPurchaseNotification;
    const eventType = sub ? `subscription.${sub.notificationType}` : voided ? 'voided_purchase' : notification.testNotification ? 'test' : 'other';
    // A voided (refunded) subscription purchase is read like any change: Play then reports it expired.
    const purchaseToken = sub?.purchaseToken ?? (voided?.productType === 1 ? voided.purchaseToken : undefined);
    if (notification.packageName !== settings.packageName) return recordAndAct('google_play', messageId, eventType, { notification }, async () => 'other_package');
    if (!purchaseToken) return recordAndAct('google_play', messageId, eventType, { notification }, async () => (notification.testNotification ? 'test' : 'ignored'));
    // Read before the transaction, so that no connection is held across the HTTP call.
    let purchase: PlaySubscriptionPurchase | null;
    try {
      purchase = await settings.client.getSubscription(settings.packageName, purchaseToken);
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      logger.warn({ err, provider: 'google_play' }, 'Play Developer API unavailable; Pub/Sub will redeliver');
      // Our upstream is down: 503 so that Pub/Sub delivers the message again later.
      throw unavailable('store_unavailable', 'The Play Developer API could not be reached; deliver again later');
    }
    const change = purchase ? googlePlayChange(purchase, { purchaseToken, eventId: messageId, readAt: deps.clock.now() }) : null;
    const result = await recordAndAct('google_play', messageId, eventType, { notification, purchase }, async (tx) => (!purchase ? 'unknown_purchase' : change ? apply(tx, change) : 'ignored'));
    if (purchase && change && result.outcome === 'applied') await acknowledge(settings, purchase, change.productId, purchaseToken);
    return result;
  }

  // An active purchase must be acknowledged within three days or Google refunds it. The app
  // usually does it; doing it here too covers an app killed mid-purchase. A failure is logged: the
  // next notification (or the app) acknowledges.
  async function acknowledge(settings: GooglePlaySettings, purchase: PlaySubscriptionPurchase, productId: string, purchaseToken: string): Promise<void> {
    if (purchase.acknowledgementState !== 'ACKNOWLEDGEMENT_STATE_PENDING' || purchase.subscriptionState !== 'SUBSCRIPTION_STATE_ACTIVE') return;
    await settings.client.acknowledge(settings.packageName, productId, purchaseToken).catch((err: unknown) => {
      logger.warn({ err, provider: 'google_play' }, 'Play purchase not acknowledged');
    });
  }

  return { appStoreNotification, googlePlayNotification, configured: { appStore: Boolean(deps.appStore), googlePlay: Boolean(deps.googlePlay) } };
}

export type StoreSubscriptionService = ReturnType<typeof createStoreSubscriptionService>;

// 404 rather than 503: an unconfigured store is not an outage to retry through, and nothing a
// sender can do changes it.
function notConfigured(store: string, variables: string): AppError {
  return new AppError(404, 'store_not_configured', `${store} notifications are not configured on this server (set ${variables})`);
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw badRequest('invalid_json', 'Webhook body is not valid JSON', 'body');
  }
}

type DeveloperNotification = {
  packageName?: unknown;
  subscriptionNotification?: { notificationType?: number; purchaseToken?: string; subscriptionId?: string };
  voidedPurchaseNotification?: { purchaseToken?: string; productType?: number };
  testNotification?: unknown;
};

// The Pub/Sub push envelope and the DeveloperNotification base64-encoded in message.data.
function parsePush(rawBody: Buffer): { messageId: string; notification: DeveloperNotification } {
  const body = parseJson(rawBody) as { message?: { data?: unknown; messageId?: unknown; message_id?: unknown } } | null;
  const message = body && typeof body === 'object' ? body.message : undefined;
  const messageId = message?.messageId ?? message?.message_id;
  if (typeof messageId !== 'string' || !/^[\w.:-]{1,200}$/.test(messageId)) throw badRequest('invalid_webhook', 'message.messageId must be the Pub/Sub message id', 'message.messageId');
  if (typeof message?.data !== 'string') throw badRequest('invalid_webhook', 'message.data must be the base64 developer notification', 'message.data');
  let notification: unknown;
  try {
    notification = JSON.parse(Buffer.from(message.data, 'base64').toString('utf8'));
  } catch {
    throw badRequest('invalid_webhook', 'message.data is not a base64 JSON developer notification', 'message.data');
  }
  if (!notification || typeof notification !== 'object' || Array.isArray(notification)) throw badRequest('invalid_webhook', 'message.data is not a developer notification', 'message.data');
  // The envelope was checked at the edge; what it carries is recorded too, so it gets the same check.
  const hostile = hostileStrings(notification, 'body', ['message', 'data']);
  if (hostile.length) throw validationError(hostile);
  const n = notification as DeveloperNotification;
  const sub = n.subscriptionNotification;
  if (sub !== undefined && (typeof sub !== 'object' || sub === null || typeof sub.purchaseToken !== 'string' || !/^[\w.:-]{1,1000}$/.test(sub.purchaseToken))) {
    throw badRequest('invalid_webhook', 'subscriptionNotification.purchaseToken must be a purchase token', 'message.data.subscriptionNotification.purchaseToken');
  }
  const voided = n.voidedPurchaseNotification;
  if (voided !== undefined && (typeof voided !== 'object' || voided === null || (voided.purchaseToken !== undefined && (typeof voided.purchaseToken !== 'string' || !/^[\w.:-]{1,1000}$/.test(voided.purchaseToken))))) {
    throw badRequest('invalid_webhook', 'voidedPurchaseNotification.purchaseToken must be a purchase token', 'message.data.voidedPurchaseNotification.purchaseToken');
  }
  return { messageId, notification: n };
}

// The real clients for what the walk module's configuration sets (modules/walk/config.ts); a store
// left unset answers 404 store_not_configured.
export function storeSettings(
  config: {
    WALK_APPLE_BUNDLE_ID?: string; WALK_APPLE_APP_ID?: number; WALK_APPLE_ENVIRONMENTS: string[]; APPLE_ROOT_CA_PEM?: string;
    WALK_PLAY_PACKAGE_NAME?: string; WALK_PLAY_PUSH_AUDIENCE?: string; WALK_PLAY_PUSH_SERVICE_ACCOUNT?: string; WALK_PLAY_SERVICE_ACCOUNT_JSON?: ServiceAccount;
    WALK_PLAY_API_BASE_URL: string; WALK_PLAY_TIMEOUT_MS: number;
  },
  platform: { GOOGLE_JWKS_URL: string },
): { appStore?: AppStoreSettings; googlePlay?: GooglePlaySettings } {
  const appStore = config.WALK_APPLE_BUNDLE_ID
    ? {
      verifier: createAppStoreVerifier({ roots: parseRootCertificates(config.APPLE_ROOT_CA_PEM ?? APPLE_ROOT_CA_G3_PEM) }),
      bundleId: config.WALK_APPLE_BUNDLE_ID, appAppleId: config.WALK_APPLE_APP_ID, environments: config.WALK_APPLE_ENVIRONMENTS,
    }
    : undefined;
  const { WALK_PLAY_PACKAGE_NAME: packageName, WALK_PLAY_PUSH_AUDIENCE: audience, WALK_PLAY_PUSH_SERVICE_ACCOUNT: pushAccount, WALK_PLAY_SERVICE_ACCOUNT_JSON: serviceAccount } = config;
  const googlePlay = packageName && audience && pushAccount && serviceAccount
    ? {
      packageName,
      client: createPlayDeveloperClient({ serviceAccount, baseUrl: config.WALK_PLAY_API_BASE_URL, timeoutMs: config.WALK_PLAY_TIMEOUT_MS }),
      verifyPush: createPubSubPushVerifier({ jwksUrl: platform.GOOGLE_JWKS_URL, audience, serviceAccountEmail: pushAccount, timeoutMs: config.WALK_PLAY_TIMEOUT_MS }),
    }
    : undefined;
  return { appStore, googlePlay };
}
