// A fake of Google's OAuth certificate endpoint: serves a JWKS (with Cache-Control max-age, as
// Google does) over real HTTP, and signs RS256 id_tokens with the matching private key.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';

export type FakeGoogle = {
  jwksUrl: string;
  requests: number;
  signIdToken: (claims: Record<string, unknown>, opts?: { kid?: string; expiresIn?: number; key?: crypto.KeyObject }) => string;
  rotate: () => void;
  close: () => Promise<void>;
};

export async function startFakeGoogle(opts: { clientId: string }): Promise<FakeGoogle> {
  let current = newKey();
  // Generated up front: RSA key generation takes long enough to skew timing-sensitive tests.
  let next: ReturnType<typeof newKey> | undefined = newKey();
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    if (req.url !== '/oauth2/v3/certs') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'cache-control': 'public, max-age=21600, must-revalidate, no-transform' });
    res.end(JSON.stringify({ keys: [{ ...current.publicKey.export({ format: 'jwk' }), kid: current.kid, alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    jwksUrl: `http://127.0.0.1:${port}/oauth2/v3/certs`,
    get requests() {
      return state.requests;
    },
    signIdToken: (claims, o = {}) =>
      jwt.sign({ iss: 'https://accounts.google.com', aud: opts.clientId, email_verified: true, ...claims }, o.key ?? current.privateKey, {
        algorithm: 'RS256',
        keyid: o.kid ?? current.kid,
        expiresIn: o.expiresIn ?? 3600,
      }),
    rotate: () => {
      current = next ?? newKey();
      next = undefined;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function newKey() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { publicKey, privateKey, kid: crypto.randomBytes(8).toString('hex') };
}
