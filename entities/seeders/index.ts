// Reference data written at start after migrations. Every seeder is an idempotent upsert.
import type { EntityManager } from '@mikro-orm/postgresql';
import { paymentProducts } from './paymentProducts.ts';

export async function seedReferenceData(em: EntityManager): Promise<void> {
  for (const p of paymentProducts) {
    await em.execute(
      `insert into payment_products (id, module, name, amount, grants, sort_order) values (?, ?, ?, ?, ?, ?)
       on conflict (id) do update set module = excluded.module, name = excluded.name, amount = excluded.amount,
         grants = excluded.grants, sort_order = excluded.sort_order`,
      [p.id, p.module, p.name, p.amount, JSON.stringify(p.grants), p.sortOrder],
    );
  }
}
