// Walk premium bought in the stores, end to end over HTTP against wire-level fakes: App Store
// Server Notifications V2 signed by a fake Apple chain (root pinned with APPLE_ROOT_CA_PEM) and
// Google Play developer notifications pushed with a Google-signed OIDC token, the subscription read
// from the fake Play Developer API. Each reaches the one walk subscription state
// (GET /walk/subscription) or is refused without changing anything.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createFakeAppStore, type FakeAppStore, type FakeNotification } from '../fakes/appStore.ts';
import { startFakeGooglePlay, type FakeGooglePlay } from '../fakes/googlePlay.ts';
import { APPLE_ROOT_CA_G3_PEM, parseRootCertificates } from '../../integrations/payments/appStore.ts';
import { checkWalkConfig, type WalkConfig } from '../../modules/walk/config.ts';
import { newUser, request, startNode, stopAllNodes, testConfig, type TestUser } from '../helpers.ts';

const DAY = 86_400_000;
const BUNDLE_ID = 'com.withbowwow.app';

describe('walk: store subscriptions (App Store, Google Play)', function () {
  this.timeout(60_000);
  let node: ApiNode;
  let apple: FakeAppStore;
  let play: FakeGooglePlay;
  const extraStores: FakeAppStore[] = [];

  before(async () => {
    apple = createFakeAppStore({ bundleId: BUNDLE_ID });
    play = await startFakeGooglePlay({ packageName: BUNDLE_ID });
    node = await startNode({
      WALK_APPLE_BUNDLE_ID: BUNDLE_ID, APPLE_ROOT_CA_PEM: apple.rootPem, WALK_PLAY_TIMEOUT_MS: '2000',
      RATE_LIMIT_WEBHOOK_PER_MINUTE: '100000', ...play.env,
    });
  });
  after(async () => {
    await stopAllNodes();
    await play?.close();
    for (const s of [apple, ...extraStores]) s?.close();
  });

  const db = () => node.ctx.db.orm.em.fork();
  const postApple = (body: string) => request(node, 'POST', '/webhooks/walk/app-store', { raw: body });
  const postPlay = (push: { body: string; headers: Record<string, string> }) => request(node, 'POST', '/webhooks/walk/google-play', { raw: push.body, headers: push.headers });
  const premiumOf = async (user: TestUser) => {
    const res = await request(node, 'GET', '/walk/subscription', { token: user.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { premium: boolean; premiumUntil: string | null; subscriptions: { provider: string; status: string; currentPeriodEnd: string | null; productId: string }[] };
  };
  const storeRows = (userId: string, provider: string) =>
    db().execute<{ status: string; current_period_end: Date | null; external_id: string; last_event_id: string }[]>(
      `select status, current_period_end, external_id, last_event_id from subscriptions where user_id = ? and provider = ?`, [userId, provider]);
  const recorded = (provider: string, eventId: string) =>
    db().execute<{ outcome: string }[]>(`select outcome from webhook_events where provider = ? and event_id = ?`, [provider, eventId]);
  // Times are rendered to the second.
  const sameInstant = (iso: string | null, ms: number) => expect(iso && Date.parse(iso)).to.equal(Math.floor(ms / 1000) * 1000);

  // A subscription notification for `user`, as Apple sends it for one original transaction.
  function appleEvent(user: TestUser, n: Partial<FakeNotification> & { notificationType: string }, t: { expiresDate: number; originalTransactionId?: string; signedDate?: number }): FakeNotification {
    const signedDate = t.signedDate ?? Date.now();
    return {
      signedDate, ...n,
      transaction: { appAccountToken: user.id, originalTransactionId: t.originalTransactionId ?? `2000${crypto.randomInt(1e9)}`, expiresDate: t.expiresDate, signedDate, ...n.transaction },
    };
  }

  describe('App Store', () => {
    it('SUBSCRIBED makes the user premium; DID_RENEW extends; AUTO_RENEW_DISABLED keeps premium until the end; EXPIRED ends it', async () => {
      const user = await newUser(node);
      expect((await premiumOf(user)).premium).to.equal(false);
      const original = `2000${crypto.randomInt(1e9)}`;
      const t0 = Date.now();
      const firstEnd = t0 + 30 * DAY;

      const subscribed = await postApple(apple.body(appleEvent(user, { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' }, { expiresDate: firstEnd, originalTransactionId: original, signedDate: t0 })));
      expect(subscribed.status, JSON.stringify(subscribed.body)).to.equal(200);
      expect(subscribed.body).to.deep.equal({ received: true, duplicate: false, outcome: 'applied' });
      let state = await premiumOf(user);
      expect(state.premium).to.equal(true);
      sameInstant(state.premiumUntil, firstEnd);
      expect(state.subscriptions.map((s) => [s.provider, s.status, s.productId])).to.deep.equal([['app_store', 'active', 'walk.premium.monthly']]);
      expect((await storeRows(user.id, 'app_store'))[0].external_id).to.equal(original);

      const renewedEnd = firstEnd + 30 * DAY;
      const renewed = await postApple(apple.body(appleEvent(user, { notificationType: 'DID_RENEW' }, { expiresDate: renewedEnd, originalTransactionId: original, signedDate: t0 + 1000 })));
      expect(renewed.body.outcome).to.equal('applied');
      sameInstant((await premiumOf(user)).premiumUntil, renewedEnd);

      const disabled = await postApple(apple.body(appleEvent(user, { notificationType: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_DISABLED', renewal: { autoRenewStatus: 0 } }, { expiresDate: renewedEnd, originalTransactionId: original, signedDate: t0 + 2000 })));
      expect(disabled.body.outcome).to.equal('applied');
      state = await premiumOf(user);
      expect(state.premium).to.equal(true);
      expect(state.subscriptions[0].status).to.equal('cancelled');
      sameInstant(state.premiumUntil, renewedEnd);

      const expired = await postApple(apple.body(appleEvent(user, { notificationType: 'EXPIRED', subtype: 'VOLUNTARY', renewal: { autoRenewStatus: 0 } }, { expiresDate: t0 + 2500, originalTransactionId: original, signedDate: t0 + 3000 })));
      expect(expired.body.outcome).to.equal('applied');
      state = await premiumOf(user);
      expect(state.premium).to.equal(false);
      expect(state.subscriptions[0].status).to.equal('expired');
    });

    it('keeps premium through a billing grace period, and ends it at once on a refund', async () => {
      const user = await newUser(node);
      const original = `2000${crypto.randomInt(1e9)}`;
      const t0 = Date.now();
      // signedDates from now on: the fake's certificates are valid from when it made them.
      await postApple(apple.body(appleEvent(user, { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' }, { expiresDate: t0 + DAY, originalTransactionId: original, signedDate: t0 })));
      const graceEnd = t0 + 16 * DAY;
      const grace = await postApple(apple.body(appleEvent(user, { notificationType: 'DID_FAIL_TO_RENEW', subtype: 'GRACE_PERIOD', renewal: { gracePeriodExpiresDate: graceEnd, isInBillingRetryPeriod: true } }, { expiresDate: t0 + DAY, originalTransactionId: original, signedDate: t0 + 1000 })));
      expect(grace.body.outcome).to.equal('applied');
      let state = await premiumOf(user);
      expect(state.premium).to.equal(true);
      sameInstant(state.premiumUntil, graceEnd);
      const refund = await postApple(apple.body(appleEvent(user, { notificationType: 'REFUND', transaction: { revocationDate: t0, revocationReason: 0 } }, { expiresDate: t0 + DAY, originalTransactionId: original, signedDate: t0 + 2000 })));
      expect(refund.body.outcome).to.equal('applied');
      state = await premiumOf(user);
      expect(state.premium).to.equal(false);
      expect(state.subscriptions[0].status).to.equal('expired');
    });

    it('applies the same notification once: redelivered later, or twice at once', async () => {
      const user = await newUser(node);
      const event = appleEvent(user, { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY', notificationUUID: crypto.randomUUID() }, { expiresDate: Date.now() + 30 * DAY });
      const body = apple.body(event);
      const both = await Promise.all([postApple(body), postApple(body)]);
      expect(both.map((r) => r.status)).to.deep.equal([200, 200]);
      expect(both.map((r) => r.body.outcome).sort()).to.deep.equal(['applied', 'duplicate']);
      const before = await storeRows(user.id, 'app_store');
      const again = await postApple(body);
      expect(again.body).to.deep.equal({ received: true, duplicate: true, outcome: 'duplicate' });
      expect(await storeRows(user.id, 'app_store')).to.deep.equal(before);
      expect(await recorded('app_store', event.notificationUUID!)).to.deep.equal([{ outcome: 'applied' }]);
    });

    it('refuses with 401, changing nothing: a chain from another root, a tampered payload, a leaf without Apple\'s OID, a certificate not valid at signedDate', async () => {
      const user = await newUser(node);
      const original = `2000${crypto.randomInt(1e9)}`;
      const subscribedEnd = Date.now() + 10 * DAY;
      await postApple(apple.body(appleEvent(user, { notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY' }, { expiresDate: subscribedEnd, originalTransactionId: original })));
      const before = await storeRows(user.id, 'app_store');
      expect(before).to.have.length(1);
      // Each would extend the subscription by a year if it were believed.
      const forged = (n: Partial<FakeNotification> = {}) => appleEvent(user, { notificationType: 'DID_RENEW', notificationUUID: crypto.randomUUID(), ...n }, { expiresDate: Date.now() + 365 * DAY, originalTransactionId: original });

      const otherRoot = createFakeAppStore({ bundleId: BUNDLE_ID });
      const noOid = createFakeAppStore({ bundleId: BUNDLE_ID, root: apple.root, leaf: { appleOid: false } });
      const noIntermediateOid = createFakeAppStore({ bundleId: BUNDLE_ID, root: apple.root, intermediateOid: false });
      const shortLived = createFakeAppStore({ bundleId: BUNDLE_ID, root: apple.root, leaf: { days: 1 } });
      extraStores.push(otherRoot, noOid, noIntermediateOid, shortLived);

      // Signed properly, then its payload edited (expiresDate pushed out) under the same signature.
      const [head, payload, signature] = apple.signedPayload(forged()).split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      claims.notificationType = 'OFFER_REDEEMED';
      const tampered = JSON.stringify({ signedPayload: `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}` });
      // A transaction inside a genuine notification, re-signed by someone else.
      const innerForged = forged();
      const outer = JSON.parse(Buffer.from(apple.signedPayload(innerForged).split('.')[1], 'base64url').toString('utf8'));
      outer.data.signedTransactionInfo = otherRoot.sign(JSON.parse(Buffer.from(outer.data.signedTransactionInfo.split('.')[1], 'base64url').toString('utf8')));
      const mixed = JSON.stringify({ signedPayload: apple.sign(outer) });

      const cases: [string, string, RegExp][] = [
        ['another root', otherRoot.body(forged()), /pinned Apple root/],
        ['tampered payload', tampered, /signature does not verify/],
        ['leaf without the OID', noOid.body(forged()), /1\.2\.840\.113635\.100\.6\.11\.1/],
        ['intermediate without the OID', noIntermediateOid.body(forged()), /1\.2\.840\.113635\.100\.6\.2\.1/],
        ['leaf expired at signedDate', shortLived.body(forged({ signedDate: Date.now() + 3 * DAY })), /not valid at signedDate/],
        ['transaction signed by another root', mixed, /pinned Apple root/],
      ];
      for (const [label, body, why] of cases) {
        const res = await postApple(body);
        expect(res.status, `${label}: ${JSON.stringify(res.body)}`).to.equal(401);
        expect(res.body.code, label).to.equal('invalid_signature');
        expect(res.body.detail, label).to.match(why);
      }
      expect(await storeRows(user.id, 'app_store')).to.deep.equal(before);
      sameInstant((await premiumOf(user)).premiumUntil, subscribedEnd);
      const [{ n }] = await db().execute<{ n: string }[]>(`select count(*) as n from webhook_events where provider = 'app_store' and payload::text like ?`, [`%${original}%`]);
      expect(Number(n)).to.equal(1);
    });

    it('answers 200 without change for another bundle, an unknown user, and a TEST notification; 400 for a body that is not a notification', async () => {
      const user = await newUser(node);
      const other = await postApple(apple.body({ ...appleEvent(user, { notificationType: 'SUBSCRIBED' }, { expiresDate: Date.now() + DAY }), bundleId: 'com.other.app' }));
      expect(other.body).to.include({ outcome: 'other_bundle', duplicate: false });
      const stranger = { ...user, id: crypto.randomUUID() };
      const unknown = await postApple(apple.body(appleEvent(stranger, { notificationType: 'SUBSCRIBED' }, { expiresDate: Date.now() + DAY })));
      expect(unknown.body).to.include({ outcome: 'unknown_user' });
      const noToken = await postApple(apple.body(appleEvent(user, { notificationType: 'SUBSCRIBED', transaction: { appAccountToken: undefined } }, { expiresDate: Date.now() + DAY })));
      expect(noToken.body).to.include({ outcome: 'unknown_user' });
      const test = await postApple(apple.body({ notificationType: 'TEST' }));
      expect(test.body).to.include({ outcome: 'ignored' });
      expect(await storeRows(user.id, 'app_store')).to.deep.equal([]);

      for (const raw of ['not json', '{}', '{"signedPayload": 42}', '{"signedPayload": "a.b"}']) {
        const res = await postApple(raw);
        expect(res.status, raw).to.be.oneOf([400, 401]);
      }
      expect((await postApple('{"signedPayload": 42}')).body.errors[0].field).to.equal('signedPayload');
    });
  });

  describe('Google Play', () => {
    it('a push with a valid OIDC token makes the user premium from what the Play Developer API says, and acknowledges the purchase', async () => {
      const user = await newUser(node);
      const token = `tok.${crypto.randomBytes(16).toString('hex')}`;
      const expiry = new Date(Date.now() + 30 * DAY);
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE', obfuscatedExternalAccountId: user.id, expiryTime: expiry.toISOString(), productId: 'walk_premium' });
      const asked = play.subscriptionRequests();
      // The notification says nothing about the state (type 4, PURCHASED); the API is asked.
      const res = await postPlay(play.push({ purchaseToken: token, notificationType: 4 }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.equal({ received: true, duplicate: false, outcome: 'applied' });
      expect(play.subscriptionRequests()).to.equal(asked + 1);
      const state = await premiumOf(user);
      expect(state.premium).to.equal(true);
      sameInstant(state.premiumUntil, expiry.getTime());
      expect(state.subscriptions.map((s) => [s.provider, s.status, s.productId])).to.deep.equal([['google_play', 'active', 'walk_premium']]);
      expect((await storeRows(user.id, 'google_play'))[0].external_id).to.equal(token);
      expect(play.acknowledged).to.include(token);

      // Cancelled in the Play Store: premium until the paid period ends.
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_CANCELED', obfuscatedExternalAccountId: user.id, expiryTime: expiry.toISOString(), productId: 'walk_premium', acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED' });
      expect((await postPlay(play.push({ purchaseToken: token, notificationType: 3 }))).body.outcome).to.equal('applied');
      const cancelled = await premiumOf(user);
      expect([cancelled.premium, cancelled.subscriptions[0].status]).to.deep.equal([true, 'cancelled']);
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED', obfuscatedExternalAccountId: user.id, expiryTime: new Date(Date.now() - 1000).toISOString(), productId: 'walk_premium', acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED' });
      expect((await postPlay(play.push({ purchaseToken: token, notificationType: 13 }))).body.outcome).to.equal('applied');
      expect((await premiumOf(user)).premium).to.equal(false);
    });

    it('refuses a push without a token, or with one that is forged, for another audience or from another account (401), without asking Play', async () => {
      const user = await newUser(node);
      const token = `tok.${crypto.randomBytes(16).toString('hex')}`;
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE', obfuscatedExternalAccountId: user.id, expiryTime: new Date(Date.now() + DAY).toISOString() });
      const asked = play.subscriptionRequests();
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pushes = [
        play.push({ purchaseToken: token }, { token: null }),
        play.push({ purchaseToken: token }, { token: 'not-a-jwt' }),
        play.push({ purchaseToken: token }, { token: play.google.signIdToken({ email: play.pushServiceAccount, sub: '1' }, { key: privateKey }) }),
        play.push({ purchaseToken: token }, { claims: { aud: 'https://elsewhere.example/push' } }),
        play.push({ purchaseToken: token }, { claims: { email: 'someone-else@evil.iam.gserviceaccount.com' } }),
        play.push({ purchaseToken: token }, { claims: { email_verified: false } }),
      ];
      for (const [i, push] of pushes.entries()) {
        const res = await postPlay(push);
        expect(res.status, `push ${i}: ${JSON.stringify(res.body)}`).to.equal(401);
      }
      expect(play.subscriptionRequests()).to.equal(asked);
      expect(await storeRows(user.id, 'google_play')).to.deep.equal([]);
    });

    it('answers 503 while the Play Developer API is down (Pub/Sub redelivers), recording nothing; the redelivery applies', async () => {
      const user = await newUser(node);
      const token = `tok.${crypto.randomBytes(16).toString('hex')}`;
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE', obfuscatedExternalAccountId: user.id, expiryTime: new Date(Date.now() + DAY).toISOString() });
      const push = play.push({ purchaseToken: token });
      const messageId = JSON.parse(push.body).message.messageId;
      play.failNext(100);
      const down = await postPlay(push);
      expect(down.status, JSON.stringify(down.body)).to.equal(503);
      expect(down.body.code).to.equal('store_unavailable');
      expect(await recorded('google_play', messageId)).to.deep.equal([]);
      play.failNext(0);
      const again = await postPlay(push);
      expect(again.body.outcome).to.equal('applied');
      expect((await premiumOf(user)).premium).to.equal(true);
    });

    it('applies two deliveries of the same message at once only once', async () => {
      const user = await newUser(node);
      const token = `tok.${crypto.randomBytes(16).toString('hex')}`;
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE', obfuscatedExternalAccountId: user.id, expiryTime: new Date(Date.now() + DAY).toISOString() });
      const push = play.push({ purchaseToken: token });
      const results = await Promise.all([postPlay(push), postPlay(push), postPlay(push)]);
      expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200]);
      expect(results.map((r) => r.body.outcome).sort()).to.deep.equal(['applied', 'duplicate', 'duplicate']);
      expect(await recorded('google_play', JSON.parse(push.body).message.messageId)).to.deep.equal([{ outcome: 'applied' }]);
    });

    it('answers 200 without change for another package, an unknown purchase or user, and a test notification; 400 for a malformed push', async () => {
      const user = await newUser(node);
      const token = `tok.${crypto.randomBytes(16).toString('hex')}`;
      play.setPurchase(token, { subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE', obfuscatedExternalAccountId: crypto.randomUUID(), expiryTime: new Date(Date.now() + DAY).toISOString() });
      expect((await postPlay(play.push({ purchaseToken: token, packageName: 'com.other.app' }))).body.outcome).to.equal('other_package');
      expect((await postPlay(play.push({ purchaseToken: 'tok.never-sold' }))).body.outcome).to.equal('unknown_purchase');
      expect((await postPlay(play.push({ purchaseToken: token }))).body.outcome).to.equal('unknown_user');
      const test = play.push({ purchaseToken: token });
      const envelope = JSON.parse(test.body);
      envelope.message.data = Buffer.from(JSON.stringify({ version: '1.0', packageName: BUNDLE_ID, eventTimeMillis: String(Date.now()), testNotification: { version: '1.0' } })).toString('base64');
      expect((await postPlay({ body: JSON.stringify(envelope), headers: test.headers })).body.outcome).to.equal('test');
      expect(await storeRows(user.id, 'google_play')).to.deep.equal([]);

      const bad = play.push({ purchaseToken: token });
      for (const [raw, field] of [
        [JSON.stringify({ message: { data: 'e30=' } }), 'message.messageId'],
        [JSON.stringify({ message: { messageId: '1', data: '!!!' } }), 'message.data'],
        [JSON.stringify({ message: { messageId: '1', data: Buffer.from(JSON.stringify({ packageName: BUNDLE_ID, subscriptionNotification: { purchaseToken: 7 } })).toString('base64') } }), 'message.data.subscriptionNotification.purchaseToken'],
        // NUL inside the notification (it would reach webhook_events' jsonb): refused like NUL in any body.
        [JSON.stringify({ message: { messageId: '1', data: Buffer.from(JSON.stringify({ packageName: 'a\u0000b' })).toString('base64') } }), 'message.data.packageName'],
      ] as const) {
        const res = await postPlay({ body: raw, headers: bad.headers });
        expect(res.status, raw).to.equal(400);
        expect(res.body.errors[0].field).to.equal(field);
      }
    });
  });

  it('pins the real Apple Root CA - G3 unless APPLE_ROOT_CA_PEM says otherwise, and refuses that override in production', async () => {
    const [g3] = parseRootCertificates(APPLE_ROOT_CA_G3_PEM);
    // Apple's published fingerprint (https://www.apple.com/certificateauthority/).
    expect(g3.fingerprint256).to.equal('63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79');
    expect(g3.subject).to.include('CN=Apple Root CA - G3');
    const real = await startNode({ WALK_APPLE_BUNDLE_ID: BUNDLE_ID });
    const user = await newUser(real);
    const res = await request(real, 'POST', '/webhooks/walk/app-store', { raw: apple.body(appleEvent(user, { notificationType: 'SUBSCRIBED' }, { expiresDate: Date.now() + DAY })) });
    expect(res.status).to.equal(401);
    expect(res.body.detail).to.match(/pinned Apple root/);
    expect(checkWalkConfig(testConfig().modules.walk as WalkConfig, { isProduction: true }).production).to.deep.equal([]);
    expect(checkWalkConfig({ ...(testConfig().modules.walk as WalkConfig), APPLE_ROOT_CA_PEM: apple.rootPem }, { isProduction: true }).production[0]).to.match(/^APPLE_ROOT_CA_PEM/);
  });

  it('refuses to start with only some of the Google Play variables, naming the missing ones', () => {
    expect(() => testConfig({ WALK_PLAY_PACKAGE_NAME: BUNDLE_ID, WALK_PLAY_PUSH_AUDIENCE: 'https://x.test/push' }))
      .to.throw(/WALK_PLAY_PUSH_SERVICE_ACCOUNT, WALK_PLAY_SERVICE_ACCOUNT_JSON: set them too/);
    expect(() => testConfig({ WALK_PLAY_SERVICE_ACCOUNT_JSON: '{"client_email": "x"}' })).to.throw(/WALK_PLAY_SERVICE_ACCOUNT_JSON/);
  });

  // The platform fuzz (test/platform/fuzz.test.ts) reaches these routes unconfigured; here they are configured.
  it('answers hostile bodies with 4xx, never 5xx, on both configured routes', async () => {
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const jws = (header: unknown, payload: unknown, sig = 'AAAA') => JSON.stringify({ signedPayload: `${b64(header)}.${b64(payload)}.${sig}` });
    const x5c = apple.signedPayload({ notificationType: 'TEST' }).split('.')[0];
    const appleBodies = [
      '', 'null', '[]', '"x"', '{"signedPayload": null}', '{"signedPayload": ["a"]}', '{"signedPayload": "..."}', '{"signedPayload": "a.b.c.d"}',
      jws({ alg: 'none' }, {}), jws({ alg: 'ES256', x5c: 'x' }, { signedDate: 1 }), jws({ alg: 'ES256', x5c: [1, 2, 3] }, { signedDate: 1 }),
      jws({ alg: 'ES256', x5c: ['AAAA', 'AAAA', 'AAAA'] }, { signedDate: 1 }),
      `{"signedPayload": "${x5c}.${b64({ signedDate: 1e308 })}.AAAA"}`, `{"signedPayload": "${x5c}.${b64({ signedDate: -8.64e15 - 1 })}.AAAA"}`,
      `{"signedPayload": "${x5c}.${b64([])}.AAAA"}`, `{"signedPayload": "${x5c}.${b64('not json')}.AAAA"}`, JSON.stringify({ signedPayload: 'x'.repeat(60_000) }),
    ];
    for (const raw of appleBodies) {
      const res = await postApple(raw);
      expect(res.status, raw.slice(0, 120)).to.be.within(400, 499);
    }
    const valid = play.push({ purchaseToken: 'tok.hostile' });
    const data = (v: unknown) => JSON.stringify({ message: { messageId: '77', data: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64') } });
    const playBodies = [
      '', 'null', '[]', '{"message": null}', '{"message": []}', '{"message": {"messageId": 1e308, "data": "e30="}}', '{"message": {"messageId": "../../x", "data": "e30="}}',
      data('[]'), data('null'), data({ subscriptionNotification: null }), data({ subscriptionNotification: 'x' }), data({ subscriptionNotification: { purchaseToken: '../../etc' } }),
      data({ voidedPurchaseNotification: { purchaseToken: ['x'], productType: 1 } }), data({ packageName: { a: 1 }, subscriptionNotification: { purchaseToken: 'tok.x' } }),
      data('\ud800'),
    ];
    for (const raw of playBodies) {
      const res = await postPlay({ body: raw, headers: valid.headers });
      expect(res.status, raw.slice(0, 120)).to.be.within(200, 499);
      expect(res.status, raw.slice(0, 120)).to.not.be.within(201, 399);
    }
  });

  it('answers 404 store_not_configured on a node without the stores configured', async () => {
    const bare = await startNode();
    for (const path of ['/webhooks/walk/app-store', '/webhooks/walk/google-play']) {
      const res = await request(bare, 'POST', path, { raw: '{}' });
      expect(res.status, path).to.equal(404);
      expect(res.body.code).to.equal('store_not_configured');
    }
  });
});
