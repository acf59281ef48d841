import { expect } from 'chai';
import { loadConfig } from '../../server/config.ts';
import { configRefusal } from '../config.ts';
import { createPersonalDataCipher, parsePersonalDataKey } from '../../services/crypto/personalData.ts';
import { normalizeMobileNumber } from '../../services/sms/sms.ts';
import { zoneCalendar } from '../../services/time.ts';
import { maskPhone, maskToken } from '../../integrations/mask.ts';

describe('notifications: personal data, quiet hours and configuration', () => {
  const key = Buffer.alloc(32, 7);

  it('hashes deterministically per key and seals with a fresh IV that only the key opens', () => {
    const cipher = createPersonalDataCipher(key);
    expect(cipher.hash('01012345678')).to.equal(cipher.hash('01012345678')).and.to.match(/^[0-9a-f]{64}$/);
    expect(createPersonalDataCipher(Buffer.alloc(32, 8)).hash('01012345678')).to.not.equal(cipher.hash('01012345678'));
    const a = cipher.encrypt('01012345678');
    const b = cipher.encrypt('01012345678');
    expect(a).to.match(/^v1\./);
    expect(a).to.not.equal(b);
    expect(cipher.decrypt(a)).to.equal('01012345678');
    const [v, iv, body, tag] = a.split('.');
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] ^= 1;
    expect(() => cipher.decrypt([v, iv, flipped.toString('base64url'), tag].join('.'))).to.throw();
    expect(() => createPersonalDataCipher(Buffer.alloc(32, 8)).decrypt(a)).to.throw();
  });

  it('reads the key as 64 hex characters or base64, and nothing else', () => {
    expect(parsePersonalDataKey('ab'.repeat(32))).to.have.length(32);
    expect(parsePersonalDataKey(key.toString('base64'))).to.deep.equal(key);
    expect(parsePersonalDataKey(key.toString('base64url'))).to.deep.equal(key);
    expect(parsePersonalDataKey('too-short')).to.equal(undefined);
    expect(parsePersonalDataKey(Buffer.alloc(31).toString('base64'))).to.equal(undefined);
  });

  it('normalises Korean mobile numbers and masks numbers and tokens', () => {
    for (const n of ['010-1234-5678', '01012345678', '+82 10-1234-5678', '+82-010-1234-5678', '821012345678', '(010) 1234 5678']) {
      expect(normalizeMobileNumber(n), n).to.equal('01012345678');
    }
    expect(normalizeMobileNumber('02-1234-5678')).to.equal(undefined);
    expect(maskPhone('01012345678')).to.equal('010****5678');
    expect(maskToken('abcdefghijklmnopqrstuvwxyz')).to.equal('abcdef…wxyz');
  });

  it('tells quiet hours in the user\'s zone, including windows that wrap midnight', () => {
    const at = (iso: string) => new Date(iso);
    // 23:30 in Seoul is 14:30 UTC.
    expect(zoneCalendar('Asia/Seoul').isQuietTime({ start: '22:00', end: '07:00' }, at('2026-11-22T14:30:00Z'))).to.equal(true);
    expect(zoneCalendar('UTC').isQuietTime({ start: '22:00', end: '07:00' }, at('2026-11-22T14:30:00Z'))).to.equal(false);
    expect(zoneCalendar('Asia/Seoul').isQuietTime({ start: '22:00', end: '07:00' }, at('2026-11-22T22:00:00Z'))).to.equal(false); // 07:00: end is outside
    expect(zoneCalendar('UTC').isQuietTime({ start: '13:00', end: '15:00' }, at('2026-11-22T13:00:00Z'))).to.equal(true);
    expect(zoneCalendar('UTC').isQuietTime({ start: '13:00:00', end: '15:00:00' }, at('2026-11-22T15:00:00Z'))).to.equal(false);
    expect(zoneCalendar('UTC').isQuietTime(null, new Date())).to.equal(false);
  });

  describe('configuration', () => {
    const refusal = configRefusal;

    it('runs on the offline push and SMS drivers with no environment', () => {
      const config = loadConfig({});
      expect(config).to.include({ pushOffline: true, smsOffline: true });
    });

    it('refuses production on the offline drivers and the development personal-data key', () => {
      const message = refusal({ NODE_ENV: 'production' });
      expect(message).to.match(/PERSONAL_DATA_KEY/).and.to.match(/FCM_SERVICE_ACCOUNT_JSON/).and.to.match(/COOLSMS_API_KEY/);
    });

    it('names a half-configured CoolSMS, a bad key and a broken service account', () => {
      expect(refusal({ COOLSMS_API_KEY: 'k' })).to.match(/COOLSMS_API_KEY \/ COOLSMS_API_SECRET \/ COOLSMS_SENDER/);
      expect(refusal({ PERSONAL_DATA_KEY: 'short' })).to.match(/PERSONAL_DATA_KEY: must be 32 bytes/);
      const broken = refusal({ FCM_SERVICE_ACCOUNT_JSON: '{"client_email":"a@b.c","private_key":"nope"}' });
      expect(broken).to.match(/FCM_SERVICE_ACCOUNT_JSON: private_key/).and.to.not.include('nope');
      expect(refusal({ FCM_SERVICE_ACCOUNT_JSON: 'not json' })).to.match(/FCM_SERVICE_ACCOUNT_JSON: is not valid JSON/);
      expect(refusal({ FCM_SERVICE_ACCOUNT_FILE: '/nonexistent/key.json' })).to.match(/FCM_SERVICE_ACCOUNT_FILE: cannot read/);
    });
  });
});
