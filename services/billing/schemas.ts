// Request and response shapes of the payment routes.
import { z } from 'zod';
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
