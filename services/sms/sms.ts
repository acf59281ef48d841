// The one way modules send a text message (rizz: "your report is ready"). Every attempt, retries
// included, is a row in sms_logs; the number is stored only as a keyed hash (to find a number's
// messages) and sealed with AES-256-GCM (to re-dial it), never in the clear.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { SmsLog, type SmsLogStatus } from '../../entities/sms/SmsLog.ts';
import type { SmsAttempt, SmsProvider } from '../../integrations/sms/index.ts';
import { ProviderCallError, ProviderError } from '../../integrations/http.ts';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import { badRequest } from '../errors.ts';
import type { Em } from '../transaction.ts';

export type SmsSendInput = { phone: string; text: string; purpose: string; userId?: string };
export type SmsSendOutcome = { status: 'sent' | 'failed'; messageId?: string; error?: string; attempts: number; offline: boolean };

// CoolSMS counts LMS length in EUC-KR bytes (2000 at most): a Hangul syllable is two bytes.
const MAX_TEXT_BYTES = 2000;

export function smsByteLength(text: string): number {
  let bytes = 0;
  for (const ch of text) bytes += ch.codePointAt(0)! < 0x80 ? 1 : 2;
  return bytes;
}

// Korean mobile numbers only (SMS cannot reach a landline): 010-1234-5678, 01012345678,
// +82 10 1234 5678 and 82-10-… all become 01012345678. Undefined when it is not one.
export function normalizeMobileNumber(input: string): string | undefined {
  let digits = input.replace(/[\s().-]/g, '');
  if (digits.startsWith('+82')) digits = `0${digits.slice(3).replace(/^0/, '')}`;
  else if (/^821\d{8,9}$/.test(digits)) digits = `0${digits.slice(2)}`;
  return /^01[016789]\d{7,8}$/.test(digits) ? digits : undefined;
}

export function createSmsService(deps: { em: Em; provider: SmsProvider; cipher: PersonalDataCipher; logger: Logger }) {
  const { provider, cipher, logger } = deps;

  async function send(input: SmsSendInput): Promise<SmsSendOutcome> {
    const phone = normalizeMobileNumber(input.phone);
    if (!phone) throw badRequest('invalid_phone', 'must be a Korean mobile number such as 010-1234-5678', 'phone');
    if (!input.text.trim() || smsByteLength(input.text) > MAX_TEXT_BYTES) {
      throw badRequest('invalid_text', `must be 1-${MAX_TEXT_BYTES} bytes (a Hangul syllable counts two)`, 'text');
    }
    if (!/^[a-z][a-z0-9_.:-]{0,63}$/.test(input.purpose)) throw badRequest('invalid_purpose', 'must be a lower-case identifier such as rizz.report_ready', 'purpose');

    const sendId = crypto.randomUUID();
    const phoneHash = cipher.hash(phone);
    const phoneEncrypted = cipher.encrypt(phone);
    let attempts = 0;

    const record = async (a: SmsAttempt) => {
      attempts = a.attempt;
      const status: SmsLogStatus = a.ok ? 'sent' : a.willRetry ? 'retrying' : 'failed';
      try {
        const em = deps.em.fork();
        em.create(SmsLog, {
          sendId, userId: input.userId ?? null, phoneHash, phoneEncrypted, purpose: input.purpose, provider: provider.name,
          providerMessageId: a.ok ? a.messageId : null, attempt: a.attempt, status, error: a.ok ? null : `${a.code}: ${a.message}`.slice(0, 500),
        });
        await em.flush();
      } catch (err) {
        // The message's fate must not depend on the log; a lost row is reported, not retried.
        logger.error({ err, sendId, attempt: a.attempt }, 'could not record an sms attempt');
      }
    };

    try {
      const { messageId, offline } = await provider.send({ to: phone, text: input.text }, { onAttempt: record });
      return { status: 'sent', messageId, attempts, offline };
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      const code = err instanceof ProviderCallError ? err.code : 'provider_error';
      return { status: 'failed', error: code, attempts, offline: provider.offline };
    }
  }

  // The sealed number of a logged send, for a retry initiated by an operator.
  async function recipientOf(sendId: string): Promise<string | undefined> {
    const row = await deps.em.fork().findOne(SmsLog, { sendId }, { orderBy: { id: 'asc' } });
    return row ? cipher.decrypt(row.phoneEncrypted) : undefined;
  }

  return { send, recipientOf, hashPhone: (phone: string) => cipher.hash(normalizeMobileNumber(phone) ?? phone), offline: provider.offline };
}

export type SmsService = ReturnType<typeof createSmsService>;
