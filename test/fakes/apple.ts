// A fake of Sign in with Apple's key endpoint (GET /auth/keys, a JWKS) over real HTTP, and the
// id_tokens Apple mints, signed RS256 with the matching key: iss https://appleid.apple.com, aud the
// app's client id, email_verified as the string "true", and `nonce` the SHA-256 (hex) of the raw
// nonce when the client asked for one.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startFakeServer, type FakeServer } from './http.ts';

export type FakeApple = FakeServer & {
  jwksUrl: string;
  // `rawNonce`: the nonce the client keeps; the token carries its SHA-256 as Apple's does.
  signIdToken: (claims: Record<string, unknown>, opts?: { rawNonce?: string; expiresIn?: number; kid?: string }) => string;
  mode: 'up' | 'down';
};

export async function startFakeApple(opts: { clientId: string }): Promise<FakeApple> {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = crypto.randomBytes(5).toString('hex').toUpperCase();
  // The handler reads the returned object, so a test flips `mode` on it.
  let fake: FakeApple;
  const server = await startFakeServer((req) => {
    if (fake.mode === 'down') return { status: 503, body: { error: 'service unavailable' } };
    if (req.method !== 'GET' || req.path !== '/auth/keys') return { status: 404, body: {} };
    return { status: 200, body: { keys: [{ ...publicKey.export({ format: 'jwk' }), kty: 'RSA', kid, use: 'sig', alg: 'RS256' }] } };
  });
  fake = Object.assign(server, {
    jwksUrl: `${server.url}/auth/keys`,
    signIdToken: (claims: Record<string, unknown>, o: { rawNonce?: string; expiresIn?: number; kid?: string } = {}) => {
      const nonce = o.rawNonce === undefined ? {} : { nonce: crypto.createHash('sha256').update(o.rawNonce).digest('hex'), nonce_supported: true };
      return jwt.sign(
        { iss: 'https://appleid.apple.com', aud: opts.clientId, auth_time: Math.floor(Date.now() / 1000), email_verified: 'true', is_private_email: 'false', ...nonce, ...claims },
        privateKey,
        { algorithm: 'RS256', keyid: o.kid ?? kid, expiresIn: o.expiresIn ?? 600 },
      );
    },
    mode: 'up' as 'up' | 'down',
  });
  return fake;
}
