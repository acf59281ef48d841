// Reference data written at start after migrations: the products every listed module sells and
// each module's own seed. Every step is an idempotent upsert.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProductSeed } from '../../server/module.ts';

export type ReferenceData = { products: (ProductSeed & { module: string })[]; seeds: ((em: EntityManager) => Promise<void>)[] };

export async function seedReferenceData(em: EntityManager, data: ReferenceData): Promise<{ withdrawn: string[] }> {
  for (const p of data.products) {
    await em.execute(
      `insert into payment_products (id, module, name, amount, grants, sort_order, active) values (?, ?, ?, ?, ?, ?, ?)
       on conflict (id) do update set module = excluded.module, name = excluded.name, amount = excluded.amount,
         grants = excluded.grants, sort_order = excluded.sort_order, active = excluded.active
       where payment_products.managed_by = 'code'`,
      [p.id, p.module, p.name, p.amount, JSON.stringify(p.grants), p.sortOrder, p.active ?? true],
    );
  }
  // A product no module declares any longer (or that was seeded before its module existed) is taken
  // off sale: nothing would grant what it sells. Its past orders stay. Products an operator created
  // or edited (managed_by 'admin', through a module's admin routes) are the operator's: left alone.
  const withdrawn = await em.execute<{ id: string }[]>(
    `update payment_products set active = false where active and managed_by = 'code' and id not in (select jsonb_array_elements_text(?::jsonb)) returning id`,
    [JSON.stringify(data.products.map((p) => p.id))],
  );
  for (const seed of data.seeds) await seed(em);
  return { withdrawn: withdrawn.map((r) => r.id) };
}
