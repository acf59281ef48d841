import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const SMS_LOG_STATUSES = ['sent', 'retrying', 'failed'] as const;
export type SmsLogStatus = (typeof SMS_LOG_STATUSES)[number];

// One row per attempt to send an SMS; the attempts of one send share a sendId. The number is never
// stored in the clear: a keyed hash to find a number's messages, and a sealed copy to re-dial it.
export const SmsLog = defineEntity({
  name: 'SmsLog',
  tableName: 'sms_logs',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    sendId: p.uuid(),
    userId: p.uuid().nullable(),
    phoneHash: p.string(),
    phoneEncrypted: p.text(),
    purpose: p.string(),
    provider: p.string(),
    providerMessageId: p.string().nullable(),
    attempt: p.integer(),
    status: p.enum([...SMS_LOG_STATUSES]),
    error: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type SmsLog = InferEntity<typeof SmsLog>;
