// Request and response shapes of the payment routes.
import { z } from 'zod';
import { POINT_ENTRY_TYPES } from './points.ts';
import { PAYMENT_PROVIDERS, PAYMENT_STATUSES } from '../../entities/billing/Payment.ts';

export const createOrderBody = z.object({
  productId: z.string().min(1).max(100),
  provider: z.enum(PAYMENT_PROVIDERS).optional(),
  metadata: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean()])).refine((m) => Object.keys(m).length <= 20, 'at most 20 keys').optional(),
});
export type CreateOrderInput = z.infer<typeof createOrderBody>;

export const tossConfirmBody = z.object({
  paymentKey: z.string().min(1).max(200),
  orderId: z.string().min(1).max(64),
  amount: z.number().int().positive(),
});
export type TossConfirmInput = z.infer<typeof tossConfirmBody>;

export const refundBody = z.object({
  reason: z.string().trim().min(1).max(200),
  amount: z.number().int().positive().optional(),
});

export const orderDto = z
  .object({
    orderId: z.string(),
    productId: z.string(),
    module: z.string(),
    orderName: z.string(),
    provider: z.enum(PAYMENT_PROVIDERS),
    amount: z.number().int().meta({ description: 'KRW' }),
    currency: z.literal('KRW'),
    status: z.enum(PAYMENT_STATUSES),
    refundedAmount: z.number().int(),
    failureReason: z.string().nullable(),
    checkout: z.record(z.string(), z.unknown()).nullable().meta({ description: 'what the client needs to open the provider checkout (pending orders)' }),
    offline: z.boolean().meta({ description: 'true when the order runs on the offline sandbox provider' }),
    createdAt: z.string(),
    paidAt: z.string().nullable(),
  })
  .meta({ id: 'Order' });
export type OrderDto = z.infer<typeof orderDto>;

export const productDto = z
  .object({ id: z.string(), module: z.string(), name: z.string(), amount: z.number().int(), grants: z.record(z.string(), z.unknown()) })
  .meta({ id: 'PaymentProduct' });

// ---- Points ----

export const pointReference = z.object({ type: z.string().min(1).max(40), id: z.string().min(1).max(100) });

export const pointEntryDto = z
  .object({
    id: z.string().meta({ description: 'Ledger entry id (increasing)' }),
    type: z.enum(POINT_ENTRY_TYPES).meta({ description: 'credit/bonus: bought or granted; spend: a fixed price; reserve/release: held for work and given back when it cost less or failed; reversal: a refund took it back; debt_payment: a credit paying a refund\'s debt' }),
    amount: z.number().int().meta({ description: 'Signed: positive into the balance, negative out of it' }),
    balanceAfter: z.number().int(),
    debtAfter: z.number().int(),
    description: z.string().nullable(),
    reference: pointReference.nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'PointEntry' });

export const walletDto = z
  .object({
    balance: z.number().int().meta({ description: 'Points that can be spent now (points held for work in progress are not in it)' }),
    debt: z.number().int().meta({ description: 'Points a refund took back beyond the balance; the next credits pay it first' }),
    totalCredited: z.number().int(),
    totalSpent: z.number().int(),
  })
  .meta({ id: 'PointWallet' });

export const pointUseBody = z.object({
  userId: z.uuid(),
  amount: z.number().int().min(1).max(1_000_000_000),
  description: z.string().trim().min(1).max(200).optional(),
  reference: pointReference.optional(),
});
