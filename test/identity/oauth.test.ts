import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createJwksVerifier } from '../../integrations/oauth/jwks.ts';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('identity: Google sign-in against a fake JWKS endpoint', () => {
  const clientId = 'test-client.apps.googleusercontent.com';
  let google: FakeGoogle;
  let node: ApiNode;
  before(async () => {
    google = await startFakeGoogle({ clientId });
    node = await startNode({ GOOGLE_CLIENT_IDS: clientId, GOOGLE_JWKS_URL: google.jwksUrl });
  });
  after(async () => {
    await stopAllNodes();
    await google.close();
  });

  const signIn = (idToken: string) => request(node, 'POST', '/auth/oauth/google', { body: { idToken } });

  it('creates an account on first sign-in and finds the same one afterwards', async () => {
    const token = google.signIdToken({ sub: 'g-100', email: 'g100@gmail.com', name: 'Kim Minji' });
    const first = await signIn(token);
    expect(first.status).to.equal(200);
    expect(first.body.user).to.include({ email: 'g100@gmail.com', displayName: 'Kim Minji' });
    const again = await signIn(google.signIdToken({ sub: 'g-100', email: 'g100@gmail.com' }));
    expect(again.body.user.id).to.equal(first.body.user.id);
    // The JWKS was fetched once and cached for its max-age.
    expect(google.requests).to.equal(1);
  });

  it('links to an existing email account only when Google verified the email', async () => {
    const u = await newUser(node);
    const unverified = await signIn(google.signIdToken({ sub: 'g-200', email: u.email, email_verified: false }));
    expect(unverified.status).to.equal(200);
    expect(unverified.body.user.id).to.not.equal(u.id);
    const verified = await signIn(google.signIdToken({ sub: 'g-201', email: u.email }));
    expect(verified.body.user.id).to.equal(u.id);
  });

  it('refuses tokens for another audience or issuer, expired ones, and unknown keys', async () => {
    const cases = {
      audience: google.signIdToken({ sub: 'g-300', aud: 'someone-elses-app' }),
      issuer: google.signIdToken({ sub: 'g-300', iss: 'https://evil.example' }),
      expired: google.signIdToken({ sub: 'g-300' }, { expiresIn: -60 }),
      unknownKid: google.signIdToken({ sub: 'g-300' }, { kid: 'not-a-google-key' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await signIn(token);
      expect(res.status, name).to.equal(401);
      expect(res.body.code, name).to.match(/id_token/);
    }
  });

  it('answers 404 for a provider that is not configured', async () => {
    const res = await request(node, 'POST', '/auth/oauth/kakao', { body: { idToken: 'x'.repeat(40) } });
    expect(res.status).to.equal(404);
    expect(res.body.code).to.equal('unknown_provider');
  });

  it('lets two racing first sign-ins of one Google account create one user', async () => {
    const results = await Promise.all([1, 2].map(() => signIn(google.signIdToken({ sub: 'g-500', email: 'g500@gmail.com' }))));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200]);
    expect(results[0].body.user.id).to.equal(results[1].body.user.id);
  });

  it('refetches the JWKS once when a token names a new key, and not for every forged kid', async () => {
    let clock = Date.now();
    const verifier = createJwksVerifier({
      provider: 'google', jwksUrl: google.jwksUrl, issuers: ['https://accounts.google.com'], audiences: [clientId], minRefetchMs: 60_000,
      toProfile: (c) => ({ subject: String(c.sub), emailVerified: false }),
      now: () => clock,
    });
    expect((await verifier.verify(google.signIdToken({ sub: 'g-400' }))).subject).to.equal('g-400');
    const before = google.requests;
    google.rotate();
    const rotated = google.signIdToken({ sub: 'g-401' });
    // Within the refetch window the new key is not fetched yet...
    await verifier.verify(rotated).then(() => expect.fail('accepted before refetch'), (e) => expect(e.code).to.equal('invalid_id_token'));
    expect(google.requests).to.equal(before);
    clock += 60_001;
    // ...after it, one fetch picks up the rotated key.
    expect((await verifier.verify(rotated)).subject).to.equal('g-401');
    expect(google.requests).to.equal(before + 1);
  });
});

describe('identity: offline dev issuer (no Google client id configured)', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('mints a dev id_token that POST /auth/oauth/google accepts, and refuses a forged one', async () => {
    const minted = await request(node, 'POST', '/dev/oauth/google/token', { body: { subject: 'dev-1', email: 'dev1@example.com', name: 'Dev One' } });
    expect(minted.status).to.equal(200);
    expect(minted.body.offline).to.equal(true);
    const res = await request(node, 'POST', '/auth/oauth/google', { body: { idToken: minted.body.idToken } });
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ email: 'dev1@example.com', displayName: 'Dev One' });
    const forged = await request(node, 'POST', '/auth/oauth/google', { body: { idToken: minted.body.idToken.slice(0, -4) + 'AAAA' } });
    expect(forged.status).to.equal(401);
  });
});
