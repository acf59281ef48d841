// A fake of Apple's side of App Store Server Notifications V2: its own root, intermediate and leaf
// certificates (made with the openssl CLI, carrying Apple's OIDs as Apple's do), and notifications
// signed as Apple signs them: ES256 compact JWSs with the chain in x5c, the transaction and renewal
// info as nested JWSs, posted as { "signedPayload": "…" }. The server under test pins `rootPem`
// (APPLE_ROOT_CA_PEM) in place of Apple Root CA - G3.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const LEAF_OID = '1.2.840.113635.100.6.11.1';
const INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';

export type FakeAppleRoot = { dir: string; keyFile: string; certFile: string; pem: string };

export type FakeNotification = {
  notificationType: string;
  subtype?: string;
  notificationUUID?: string;
  signedDate?: number;
  bundleId?: string;
  environment?: 'Sandbox' | 'Production';
  // Merged over a subscription transaction for the fake's bundle (omit to send none).
  transaction?: Record<string, unknown>;
  renewal?: Record<string, unknown>;
};

export type FakeAppStore = {
  root: FakeAppleRoot;
  rootPem: string;
  bundleId: string;
  // Any payload signed with this chain (the notification's nested JWSs are made with it too).
  sign: (payload: Record<string, unknown>) => string;
  signedPayload: (n: FakeNotification) => string;
  // The request body Apple posts.
  body: (n: FakeNotification) => string;
  post: (url: string, n: FakeNotification) => Promise<Response>;
  close: () => void;
};

export function createFakeAppleRoot(): FakeAppleRoot {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-apple-'));
  const keyFile = path.join(dir, 'root.key');
  const certFile = path.join(dir, 'root.pem');
  openssl(dir, ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', keyFile]);
  openssl(dir, [
    'req', '-x509', '-new', '-key', keyFile, '-sha384', '-days', '3650', '-out', certFile,
    '-subj', '/CN=Fake Apple Root CA - G3/OU=Apple Certification Authority/O=Apple Inc./C=US',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, keyFile, certFile, pem: fs.readFileSync(certFile, 'utf8') };
}

// `root`: share another fake's root (to make a second chain under it); `leaf.appleOid: false`: a
// leaf without Apple's OID; `leaf.days`: how long the leaf is valid from now. Every certificate is
// valid from the second it was made, so sign nothing with a signedDate before that.
export function createFakeAppStore(opts: { bundleId: string; root?: FakeAppleRoot; leaf?: { appleOid?: boolean; days?: number }; intermediateOid?: boolean }): FakeAppStore {
  const root = opts.root ?? createFakeAppleRoot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-apple-chain-'));
  const issue = (name: string, curve: string, subject: string, caKey: string, caCert: string, ext: string[], days: number) => {
    const key = path.join(dir, `${name}.key`);
    openssl(dir, ['ecparam', '-name', curve, '-genkey', '-noout', '-out', key]);
    openssl(dir, ['req', '-new', '-key', key, '-subj', subject, '-out', path.join(dir, `${name}.csr`)]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
    openssl(dir, [
      'x509', '-req', '-in', path.join(dir, `${name}.csr`), '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`,
      '-days', String(days), '-sha384', '-extfile', path.join(dir, `${name}.ext`), '-out', path.join(dir, `${name}.pem`),
    ]);
    return { key, cert: path.join(dir, `${name}.pem`) };
  };
  const intermediate = issue('intermediate', 'secp384r1', '/CN=Fake Apple Worldwide Developer Relations Certification Authority/OU=G6/O=Apple Inc./C=US', root.keyFile, root.certFile, [
    'basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid',
    ...(opts.intermediateOid === false ? [] : [`${INTERMEDIATE_OID}=ASN1:NULL`]),
  ], 3000);
  const leaf = issue('leaf', 'prime256v1', '/CN=Fake Prod ECC Mac App Store and iTunes Store Receipt Signing/OU=Apple Worldwide Developer Relations/O=Apple Inc./C=US', intermediate.key, intermediate.cert, [
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid',
    ...(opts.leaf?.appleOid === false ? [] : [`${LEAF_OID}=ASN1:NULL`]),
  ], opts.leaf?.days ?? 365);
  const der = (file: string) => new crypto.X509Certificate(fs.readFileSync(file)).raw.toString('base64');
  const x5c = [der(leaf.cert), der(intermediate.cert), der(root.certFile)];
  const leafKey = crypto.createPrivateKey(fs.readFileSync(leaf.key));

  function sign(payload: Record<string, unknown>): string {
    const head = Buffer.from(JSON.stringify({ alg: 'ES256', x5c })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const signature = crypto.sign('sha256', Buffer.from(`${head}.${body}`), { key: leafKey, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${signature.toString('base64url')}`;
  }

  function signedPayload(n: FakeNotification): string {
    const signedDate = n.signedDate ?? Date.now();
    const environment = n.environment ?? 'Sandbox';
    const bundleId = n.bundleId ?? opts.bundleId;
    const data: Record<string, unknown> = { appAppleId: 1234567890, bundleId, bundleVersion: '42', environment, status: 1 };
    if (n.transaction) {
      const originalTransactionId = String(n.transaction.originalTransactionId ?? '2000000000000001');
      data.signedTransactionInfo = sign({
        transactionId: `2000000${crypto.randomInt(1e9)}`, originalTransactionId, webOrderLineItemId: `2000000${crypto.randomInt(1e9)}`,
        bundleId, productId: 'walk.premium.monthly', subscriptionGroupIdentifier: '21000001',
        purchaseDate: signedDate, originalPurchaseDate: signedDate, expiresDate: signedDate + 30 * 86_400_000, quantity: 1,
        type: 'Auto-Renewable Subscription', inAppOwnershipType: 'PURCHASED', signedDate, environment,
        transactionReason: 'PURCHASE', storefront: 'KOR', storefrontId: '143466', price: 4_900_000, currency: 'KRW',
        ...n.transaction,
      });
      data.signedRenewalInfo = sign({
        originalTransactionId, autoRenewProductId: 'walk.premium.monthly', productId: 'walk.premium.monthly', autoRenewStatus: 1,
        signedDate, environment, recentSubscriptionStartDate: signedDate, renewalDate: Number(n.transaction.expiresDate ?? signedDate + 30 * 86_400_000),
        ...n.renewal,
      });
    }
    return sign({
      notificationType: n.notificationType, ...(n.subtype ? { subtype: n.subtype } : {}),
      notificationUUID: n.notificationUUID ?? crypto.randomUUID(), data, version: '2.0', signedDate,
    });
  }

  const body = (n: FakeNotification) => JSON.stringify({ signedPayload: signedPayload(n) });
  return {
    root,
    rootPem: root.pem,
    bundleId: opts.bundleId,
    sign,
    signedPayload,
    body,
    post: (url, n) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(n) }),
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}
