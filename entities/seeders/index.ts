// Reference data written at start after migrations. Every seeder is an idempotent upsert.
import type { EntityManager } from '@mikro-orm/postgresql';
import { coachPlans } from './coachPlans.ts';
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
  for (const p of coachPlans) {
    await em.execute(
      `insert into coach_plans (tier, name, model, max_prompt_tokens, max_answer_tokens, call_limit, call_period, sort_order) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (tier) do update set name = excluded.name, model = excluded.model, max_prompt_tokens = excluded.max_prompt_tokens,
         max_answer_tokens = excluded.max_answer_tokens, call_limit = excluded.call_limit, call_period = excluded.call_period, sort_order = excluded.sort_order`,
      [p.tier, p.name, p.model, p.maxPromptTokens, p.maxAnswerTokens, p.callLimit, p.callPeriod, p.sortOrder],
    );
  }
}
