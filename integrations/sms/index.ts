// Sending one text message. services/sms/sms.ts validates the number, records every attempt and is
// what modules call; a driver only talks to its provider.

export type SmsMessage = { to: string; text: string };

export type SmsAttempt =
  | { attempt: number; ok: true; messageId: string }
  | { attempt: number; ok: false; code: string; message: string; willRetry: boolean };

export type SmsSendResult = { messageId: string; offline: boolean };

export type SmsProvider = {
  name: 'coolsms' | 'offline';
  offline: boolean;
  // onAttempt sees every attempt, retries included, before the next one starts.
  send: (message: SmsMessage, opts?: { onAttempt?: (attempt: SmsAttempt) => Promise<void> }) => Promise<SmsSendResult>;
};
