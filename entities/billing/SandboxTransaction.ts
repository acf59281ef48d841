import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// OFFLINE DRIVER state: what the sandbox "provider" knows about a checkout. It lives apart from
// `payments` so that confirming with the sandbox works like confirming with a real provider.
export const SandboxTransaction = defineEntity({
  name: 'SandboxTransaction',
  tableName: 'sandbox_transactions',
  properties: {
    paymentKey: p.string().primary(),
    orderId: p.string().unique(),
    amount: p.integer(),
    status: p.enum(['approved', 'declined', 'cancelled']),
    cancelledAmount: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type SandboxTransaction = InferEntity<typeof SandboxTransaction>;
