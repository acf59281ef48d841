import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000041_product_management extends Migration {
  override up(): void {
    // Who owns a product row: 'code' (a module's declared products, rewritten at every migration)
    // or 'admin' (created or edited by an operator through a module's admin routes, which the seeder
    // then leaves alone).
    this.addSql(`alter table payment_products add column managed_by text not null default 'code' check (managed_by in ('code', 'admin'))`);
  }
}
