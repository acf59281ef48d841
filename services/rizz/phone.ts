// The phone number a Find My Rizz job is tied to: the result link is texted to it and the result page
// asks for it again. Only Korean mobile numbers are accepted: the SMS goes through a Korean provider
// (CoolSMS), which cannot text a landline, a VoIP (070) number or a foreign number, so taking one would
// sell a job whose result can never be delivered. Numbers are kept in E.164 (+821012345678), the one
// spelling every input format maps to, so the lookup hash of a number is the same however it was typed.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import { badRequest } from '../errors.ts';

// Digits and the separators people type (010-1234-5678, +82 10 1234 5678, (010) 1234.5678). No
// letters: libphonenumber would read "010-CALL-ME" as a vanity number, and "ext"/"tel:" forms have
// no place in an SMS recipient.
const ALLOWED = /^[+0-9 ().-]{8,30}$/;
const KOREAN_MOBILE_E164 = /^\+821\d{8,9}$/;

export function normalizePhone(input: string, field = 'phone'): string {
  const trimmed = input.trim().replace(/\s+/g, ' ');
  if (!ALLOWED.test(trimmed)) throw badRequest('invalid_phone', 'must be a phone number of digits, spaces, "+", "-", "." or parentheses, such as 010-1234-5678', field);
  // 'KR' is the default region: a number without a country code is read as a Korean one.
  const parsed = parsePhoneNumberFromString(trimmed, 'KR');
  if (!parsed || !parsed.isValid()) throw badRequest('invalid_phone', 'is not a valid phone number; use a Korean mobile number such as 010-1234-5678', field);
  if (parsed.country !== 'KR' || parsed.getType() !== 'MOBILE' || !KOREAN_MOBILE_E164.test(parsed.number)) {
    throw badRequest('invalid_phone', 'must be a Korean mobile number such as 010-1234-5678 (results are sent by SMS through a Korean provider)', field);
  }
  return parsed.number;
}

// The keyed hash jobs are looked up by (HMAC-SHA256 hex, the platform's personal-data cipher, whose
// hash key is derived from PERSONAL_DATA_KEY): the number itself is never stored in the clear. Takes
// the E.164 form from normalizePhone so one number has one key.
export function phoneLookupKey(e164: string, cipher: Pick<PersonalDataCipher, 'hash'>): string {
  if (!KOREAN_MOBILE_E164.test(e164)) throw new TypeError('phoneLookupKey takes a number normalised by normalizePhone');
  return cipher.hash(e164);
}
