import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// What can be bought, per module: the price is ours, never the client's. Seeded as reference data.
export const PaymentProduct = defineEntity({
  name: 'PaymentProduct',
  tableName: 'payment_products',
  properties: {
    id: p.string().primary(),
    module: p.string(),
    name: p.string(),
    description: p.text().nullable(),
    amount: p.integer(),
    // Module-specific grant, e.g. { points: 500, bonusPoints: 50 } for chat point packs.
    grants: p.json<Record<string, unknown>>(),
    active: p.boolean().default(true),
    sortOrder: p.integer().default(0),
  },
});
export type PaymentProduct = InferEntity<typeof PaymentProduct>;
