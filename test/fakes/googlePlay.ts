// A fake of Google's side of Play subscriptions on real HTTP:
//   - the OAuth 2.0 token endpoint (jwt-bearer grant, the assertion verified against the service
//     account's key, scope androidpublisher), as Google's;
//   - the Play Developer API: GET …/purchases/subscriptionsv2/tokens/{token} answering
//     SubscriptionPurchaseV2 JSON for the purchases set here, and POST …:acknowledge, both checking
//     the Bearer token it issued, with Google's error JSON otherwise;
//   - Pub/Sub push deliveries: the push body ({ message: { data, messageId, publishTime }, subscription })
//     with a DeveloperNotification in `data`, and an Authorization: Bearer OIDC token signed by the
//     Google JWKS fake (test/fakes/google.ts) for the push audience and service account.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startFakeServer, type FakeServer } from './http.ts';
import { startFakeGoogle, type FakeGoogle } from './google.ts';

export type FakePlayPurchase = {
  subscriptionState: string;
  productId?: string;
  expiryTime?: string;
  obfuscatedExternalAccountId?: string;
  autoRenewEnabled?: boolean;
  acknowledgementState?: string;
};

export type FakeGooglePlay = FakeServer & {
  google: FakeGoogle;
  packageName: string;
  audience: string;
  pushServiceAccount: string;
  // The walk module's and platform's variables for a node that should use this fake.
  env: Record<string, string>;
  setPurchase: (purchaseToken: string, purchase: FakePlayPurchase) => void;
  acknowledged: string[];
  // The next n Play API calls (not token requests) answer `status` (default 503).
  failNext: (n: number, status?: number) => void;
  subscriptionRequests: () => number;
  // A Pub/Sub push of a SubscriptionNotification; `token` replaces the signed OIDC token (null: none).
  push: (n: { purchaseToken: string; notificationType?: number; subscriptionId?: string; messageId?: string; packageName?: string; eventTimeMillis?: number }, o?: { token?: string | null; claims?: Record<string, unknown> }) => { body: string; headers: Record<string, string> };
};

export async function startFakeGooglePlay(opts: { packageName?: string; audience?: string } = {}): Promise<FakeGooglePlay> {
  const packageName = opts.packageName ?? 'com.withbowwow.app';
  const audience = opts.audience ?? 'https://api.withbowwow.test/webhooks/walk/google-play';
  const pushServiceAccount = 'rtdn-push@withbowwow-play.iam.gserviceaccount.com';
  const google = await startFakeGoogle({ clientId: audience });
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const purchases = new Map<string, FakePlayPurchase>();
  const accessTokens = new Set<string>();
  const acknowledged: string[] = [];
  const state = { failures: 0, failStatus: 503, subscriptionRequests: 0 };
  const googleError = (code: number, status: string, message: string) => ({ status: code, body: { error: { code, message, status, errors: [{ message, domain: 'global', reason: status.toLowerCase() }] } } });
  let base = '';

  const server = await startFakeServer((req) => {
    if (req.method === 'POST' && req.path === '/token') {
      const form = new URLSearchParams(req.body);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } };
      let claims: jwt.JwtPayload;
      try {
        claims = jwt.verify(form.get('assertion') ?? '', publicKey, { algorithms: ['RS256'], audience: `${base}/token` }) as jwt.JwtPayload;
      } catch {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      }
      if (!String(claims.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/androidpublisher')) return { status: 400, body: { error: 'invalid_scope' } };
      const token = `ya29.${crypto.randomBytes(24).toString('base64url')}`;
      accessTokens.add(token);
      return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
    }
    const get = /^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/subscriptionsv2\/tokens\/([^/]+)$/.exec(req.path);
    const ack = /^\/androidpublisher\/v3\/applications\/([^/]+)\/purchases\/subscriptions\/([^/]+)\/tokens\/([^/]+):acknowledge$/.exec(req.path);
    if (!get && !ack) return googleError(404, 'NOT_FOUND', 'Not Found');
    if (!accessTokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (get) state.subscriptionRequests++;
    if (state.failures > 0) {
      state.failures--;
      return googleError(state.failStatus, state.failStatus === 503 ? 'UNAVAILABLE' : 'INTERNAL', 'The service is currently unavailable.');
    }
    const [pkg, token] = get ? [get[1], get[2]] : [ack![1], ack![3]];
    if (decodeURIComponent(pkg) !== packageName) return googleError(404, 'NOT_FOUND', 'No application was found for the given package name.');
    const p = purchases.get(decodeURIComponent(token));
    if (!p) return googleError(400, 'INVALID_ARGUMENT', 'Invalid Value');
    if (ack && req.method === 'POST') {
      p.acknowledgementState = 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED';
      acknowledged.push(decodeURIComponent(token));
      return { status: 200, raw: '' };
    }
    if (req.method !== 'GET') return googleError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
    return {
      status: 200,
      body: {
        kind: 'androidpublisher#subscriptionPurchaseV2', regionCode: 'KR', startTime: new Date(Date.now() - 3600_000).toISOString(),
        subscriptionState: p.subscriptionState, latestOrderId: `GPA.3333-${crypto.randomInt(1e4)}-${crypto.randomInt(1e4)}-${crypto.randomInt(1e5)}`,
        acknowledgementState: p.acknowledgementState ?? 'ACKNOWLEDGEMENT_STATE_PENDING',
        ...(p.obfuscatedExternalAccountId ? { externalAccountIdentifiers: { obfuscatedExternalAccountId: p.obfuscatedExternalAccountId } } : {}),
        lineItems: [{
          productId: p.productId ?? 'walk_premium', expiryTime: p.expiryTime,
          autoRenewingPlan: { autoRenewEnabled: p.autoRenewEnabled ?? p.subscriptionState === 'SUBSCRIPTION_STATE_ACTIVE' },
          offerDetails: { basePlanId: 'monthly' },
        }],
      },
    };
  });
  base = server.url;
  const serviceAccount = {
    type: 'service_account', project_id: 'withbowwow-play', private_key_id: crypto.randomBytes(20).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), client_email: 'play-api@withbowwow-play.iam.gserviceaccount.com', token_uri: `${base}/token`,
  };

  const close = server.close;
  return Object.assign(server, {
    google,
    packageName,
    audience,
    pushServiceAccount,
    acknowledged,
    env: {
      WALK_PLAY_PACKAGE_NAME: packageName, WALK_PLAY_SERVICE_ACCOUNT_JSON: JSON.stringify(serviceAccount), WALK_PLAY_API_BASE_URL: base,
      WALK_PLAY_PUSH_AUDIENCE: audience, WALK_PLAY_PUSH_SERVICE_ACCOUNT: pushServiceAccount, GOOGLE_JWKS_URL: google.jwksUrl,
    },
    setPurchase: (token: string, purchase: FakePlayPurchase) => void purchases.set(token, { ...purchase }),
    failNext: (n: number, status = 503) => void Object.assign(state, { failures: n, failStatus: status }),
    subscriptionRequests: () => state.subscriptionRequests,
    push: (n: { purchaseToken: string; notificationType?: number; subscriptionId?: string; messageId?: string; packageName?: string; eventTimeMillis?: number }, o: { token?: string | null; claims?: Record<string, unknown> } = {}) => {
      const eventTimeMillis = n.eventTimeMillis ?? Date.now();
      const notification = {
        version: '1.0', packageName: n.packageName ?? packageName, eventTimeMillis: String(eventTimeMillis),
        subscriptionNotification: { version: '1.0', notificationType: n.notificationType ?? 4, purchaseToken: n.purchaseToken, subscriptionId: n.subscriptionId ?? 'walk_premium' },
      };
      const messageId = n.messageId ?? String(crypto.randomInt(1e12, 1e13));
      const body = JSON.stringify({
        message: { data: Buffer.from(JSON.stringify(notification)).toString('base64'), messageId, message_id: messageId, publishTime: new Date(eventTimeMillis).toISOString(), publish_time: new Date(eventTimeMillis).toISOString() },
        subscription: 'projects/withbowwow-play/subscriptions/play-rtdn-push',
      });
      const token = o.token === undefined
        ? google.signIdToken({ email: pushServiceAccount, sub: '112233445566778899000', azp: '112233445566778899000', ...o.claims })
        : o.token;
      return { body, headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) } };
    },
    close: async () => {
      await close();
      await google.close();
    },
  });
}
