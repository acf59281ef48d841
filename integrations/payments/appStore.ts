// App Store Server Notifications V2: Apple posts { signedPayload }, a JWS (ES256) whose header
// carries the signing chain in x5c (leaf, intermediate, root). Nothing in it is believed until:
//   - the root is byte for byte one we pin (Apple Root CA - G3, or APPLE_ROOT_CA_PEM in tests),
//   - the intermediate was issued and signed by that root, and the leaf by the intermediate,
//   - every certificate was valid at the payload's signedDate (Apple's own library uses that date,
//     so a notification redelivered after the leaf expired still verifies),
//   - the leaf carries Apple's App Store receipt-signing OID (1.2.840.113635.100.6.11.1) and the
//     intermediate Apple's WWDR intermediate OID (1.2.840.113635.100.6.2.1): Apple's root also
//     stands above certificates issued to any developer, so a chain alone proves little,
//   - and the JWS signature verifies with the leaf's P-256 key.
// The transaction and renewal info inside the notification are JWSs of their own, checked the same
// way. https://developer.apple.com/documentation/appstoreservernotifications
import crypto from 'node:crypto';

// Apple Root CA - G3 (https://www.apple.com/certificateauthority/AppleRootCA-G3.cer), valid until
// 2039-04-30. SHA-256 fingerprint 63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79.
export const APPLE_ROOT_CA_G3_PEM = `-----BEGIN CERTIFICATE-----
MIICQzCCAcmgAwIBAgIILcX8iNLFS5UwCgYIKoZIzj0EAwMwZzEbMBkGA1UEAwwS
QXBwbGUgUm9vdCBDQSAtIEczMSYwJAYDVQQLDB1BcHBsZSBDZXJ0aWZpY2F0aW9u
IEF1dGhvcml0eTETMBEGA1UECgwKQXBwbGUgSW5jLjELMAkGA1UEBhMCVVMwHhcN
MTQwNDMwMTgxOTA2WhcNMzkwNDMwMTgxOTA2WjBnMRswGQYDVQQDDBJBcHBsZSBS
b290IENBIC0gRzMxJjAkBgNVBAsMHUFwcGxlIENlcnRpZmljYXRpb24gQXV0aG9y
aXR5MRMwEQYDVQQKDApBcHBsZSBJbmMuMQswCQYDVQQGEwJVUzB2MBAGByqGSM49
AgEGBSuBBAAiA2IABJjpLz1AcqTtkyJygRMc3RCV8cWjTnHcFBbZDuWmBSp3ZHtf
TjjTuxxEtX/1H7YyYl3J6YRbTzBPEVoA/VhYDKX1DyxNB0cTddqXl5dvMVztK517
IDvYuVTZXpmkOlEKMaNCMEAwHQYDVR0OBBYEFLuw3qFYM4iapIqZ3r6966/ayySr
MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMDA2gA
MGUCMQCD6cHEFl4aXTQY2e3v9GwOAEZLuN+yRhHFD/3meoyhpmvOwgPUnPWTxnS4
at+qIxUCMG1mihDK1A3UT82NQz60imOlM27jbdoXt2QfyFMm+YhidDkLF1vLUagM
6BgD56KyKA==
-----END CERTIFICATE-----
`;

export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';
export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';

// Why a signed payload was refused; the route answers 401 with it.
export class AppleSignatureError extends Error {
  override name = 'AppleSignatureError';
}

// responseBodyV2DecodedPayload (the fields we use; Apple adds more over time).
export type AppStoreNotification = {
  notificationType: string;
  subtype?: string;
  notificationUUID: string;
  version?: string;
  signedDate: number;
  data?: {
    appAppleId?: number;
    bundleId?: string;
    bundleVersion?: string;
    environment?: string;
    signedTransactionInfo?: string;
    signedRenewalInfo?: string;
    status?: number;
  };
};

// JWSTransactionDecodedPayload.
export type AppStoreTransaction = {
  transactionId: string;
  originalTransactionId: string;
  bundleId: string;
  productId: string;
  type?: string;
  purchaseDate?: number;
  expiresDate?: number;
  appAccountToken?: string;
  environment?: string;
  revocationDate?: number;
  signedDate: number;
};

// JWSRenewalInfoDecodedPayload.
export type AppStoreRenewalInfo = {
  originalTransactionId: string;
  productId?: string;
  autoRenewProductId?: string;
  autoRenewStatus?: number;
  isInBillingRetryPeriod?: boolean;
  gracePeriodExpiresDate?: number;
  environment?: string;
  signedDate: number;
};

export type VerifiedAppStoreNotification = {
  notification: AppStoreNotification;
  transaction?: AppStoreTransaction;
  renewal?: AppStoreRenewalInfo;
};

// Parses PEM text holding one or more certificates (the pinned roots).
export function parseRootCertificates(pem: string): crypto.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('holds no PEM certificate');
  return blocks.map((b) => new crypto.X509Certificate(b));
}

export function createAppStoreVerifier(opts: { roots: crypto.X509Certificate[] }) {
  // Verifies one of Apple's JWSs and returns its payload; throws AppleSignatureError.
  function verifySignedData<T extends { signedDate?: unknown }>(jws: string): T {
    const parts = jws.split('.');
    if (parts.length !== 3) throw new AppleSignatureError('not a compact JWS');
    const header = decodeJson(parts[0], 'header') as { alg?: unknown; x5c?: unknown };
    const payload = decodeJson(parts[1], 'payload') as T;
    if (header.alg !== 'ES256') throw new AppleSignatureError(`alg ${String(header.alg)} is not ES256`);
    if (!Array.isArray(header.x5c) || header.x5c.length !== 3 || !header.x5c.every((c) => typeof c === 'string')) {
      throw new AppleSignatureError('x5c must hold three certificates (leaf, intermediate, root)');
    }
    const signedDate = payload.signedDate;
    // An instant Date can hold (an invalid Date compares false with everything, so it would pass the validity check).
    if (typeof signedDate !== 'number' || Number.isNaN(new Date(signedDate).getTime())) throw new AppleSignatureError('payload has no valid signedDate');
    const leaf = verifyChain(header.x5c as string[], new Date(signedDate));
    const key = leaf.publicKey;
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new AppleSignatureError('leaf key is not P-256');
    const signature = Buffer.from(parts[2], 'base64url');
    const ok = signature.length === 64 && crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (!ok) throw new AppleSignatureError('signature does not verify with the leaf certificate');
    return payload;
  }

  function verifyChain(x5c: string[], at: Date): crypto.X509Certificate {
    let leaf: crypto.X509Certificate, intermediate: crypto.X509Certificate, root: crypto.X509Certificate;
    try {
      [leaf, intermediate, root] = x5c.map((c) => new crypto.X509Certificate(Buffer.from(c, 'base64')));
    } catch {
      throw new AppleSignatureError('x5c holds a certificate that does not parse');
    }
    if (!opts.roots.some((r) => r.raw.equals(root.raw))) throw new AppleSignatureError('chain does not end at a pinned Apple root');
    if (!intermediate.ca || !intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) throw new AppleSignatureError('intermediate was not issued by the root');
    if (!leaf.checkIssued(intermediate) || !leaf.verify(intermediate.publicKey)) throw new AppleSignatureError('leaf was not issued by the intermediate');
    for (const [name, cert] of [['leaf', leaf], ['intermediate', intermediate], ['root', root]] as const) {
      if (at < cert.validFromDate || at > cert.validToDate) throw new AppleSignatureError(`${name} certificate was not valid at signedDate ${at.toISOString()}`);
    }
    if (!extensionOids(leaf.raw).includes(APPLE_LEAF_OID)) throw new AppleSignatureError(`leaf lacks Apple's receipt-signing OID ${APPLE_LEAF_OID}`);
    if (!extensionOids(intermediate.raw).includes(APPLE_INTERMEDIATE_OID)) throw new AppleSignatureError(`intermediate lacks Apple's OID ${APPLE_INTERMEDIATE_OID}`);
    return leaf;
  }

  // The notification, then the transaction and renewal info it carries, each verified.
  function verifyNotification(signedPayload: string): VerifiedAppStoreNotification {
    const notification = verifySignedData<AppStoreNotification>(signedPayload);
    if (typeof notification.notificationType !== 'string' || typeof notification.notificationUUID !== 'string') {
      throw new AppleSignatureError('payload has no notificationType or notificationUUID');
    }
    const data = notification.data;
    const transaction = typeof data?.signedTransactionInfo === 'string' ? verifySignedData<AppStoreTransaction>(data.signedTransactionInfo) : undefined;
    const renewal = typeof data?.signedRenewalInfo === 'string' ? verifySignedData<AppStoreRenewalInfo>(data.signedRenewalInfo) : undefined;
    return { notification, transaction, renewal };
  }

  return { verifyNotification, verifySignedData };
}

export type AppStoreVerifier = ReturnType<typeof createAppStoreVerifier>;

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AppleSignatureError(`JWS ${what} is not a JSON object`);
}

// The extension OIDs of a DER certificate: Certificate → tbsCertificate → [3] extensions →
// each Extension's extnID. Node's X509Certificate does not expose extensions, and a byte search
// for the OID would also match it inside a name.
export function extensionOids(der: Buffer): string[] {
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.start);
  let at = tbs.start;
  while (at < tbs.end) {
    const field = readTlv(der, at);
    if (field.tag === 0xa3) {
      const list = readTlv(der, field.start);
      const oids: string[] = [];
      for (let e = list.start; e < list.end;) {
        const ext = readTlv(der, e);
        const id = readTlv(der, ext.start);
        if (id.tag === 0x06) oids.push(decodeOid(der.subarray(id.start, id.end)));
        e = ext.end;
      }
      return oids;
    }
    at = field.end;
  }
  return [];
}

function readTlv(buf: Buffer, offset: number): { tag: number; start: number; end: number } {
  if (offset + 2 > buf.length) throw new AppleSignatureError('certificate DER is truncated');
  const tag = buf[offset];
  let length = buf[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > buf.length) throw new AppleSignatureError('certificate DER has a bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + buf[start + i];
    start += bytes;
  }
  if (start + length > buf.length) throw new AppleSignatureError('certificate DER is truncated');
  return { tag, start, end: start + length };
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
