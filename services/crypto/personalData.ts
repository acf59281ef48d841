// Personal data at rest (phone numbers now, emails later): a keyed lookup hash so rows can be found
// by the value without storing it, and authenticated encryption for the few places that must read
// the value back (re-dialling an SMS). Both keys are derived from one configured 32-byte key, so
// the hash key and the encryption key are never the same bytes.
import crypto from 'node:crypto';

export type PersonalDataCipher = {
  // HMAC-SHA256 (hex) of the value: equal values hash equally, so it can be indexed and looked up.
  hash: (value: string) => string;
  // AES-256-GCM: "v1.<iv>.<ciphertext>.<tag>" (base64url); a fresh IV every call.
  encrypt: (value: string) => string;
  decrypt: (sealed: string) => string;
};

const VERSION = 'v1';
const IV_BYTES = 12;

// 32 bytes given as 64 hex characters or as base64 (standard or url-safe); undefined otherwise.
export function parsePersonalDataKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (!/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(trimmed)) return undefined;
  const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

export function createPersonalDataCipher(masterKey: Buffer): PersonalDataCipher {
  if (masterKey.length !== 32) throw new Error('personal data key must be 32 bytes');
  // Prepared KeyObjects: handing Node a raw Buffer makes it re-import the key on every call, which
  // profiled as a quarter of an authenticated request that shows the user's email.
  const derive = (purpose: string) => crypto.createSecretKey(Buffer.from(crypto.hkdfSync('sha256', masterKey, Buffer.alloc(0), `personal-data:${purpose}`, 32)));
  const hashKey = derive('lookup-hash');
  const encryptionKey = derive('encryption');

  return {
    hash: (value) => crypto.createHmac('sha256', hashKey).update(value, 'utf8').digest('hex'),
    encrypt: (value) => {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', encryptionKey, iv);
      // The version is bound into the tag, so a sealed value cannot be replayed under another format.
      cipher.setAAD(Buffer.from(VERSION));
      const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    decrypt: (sealed) => {
      const [version, iv, body, tag] = sealed.split('.');
      if (version !== VERSION || !iv || body === undefined || !tag) throw new Error('not a sealed personal data value');
      const decipher = crypto.createDecipheriv('aes-256-gcm', encryptionKey, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(VERSION));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

