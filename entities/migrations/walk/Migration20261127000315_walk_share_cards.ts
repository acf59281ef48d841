import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000315_walk_share_cards extends Migration {
  override up(): void {
    // A walk's current share card (services/walk/shareCards.ts): the hash of what it shows (the route
    // others see, the numbers, the pet's photo, the layout) and the object it was stored under. One
    // row per walk: a card drawn from a newer state replaces the row and its object is deleted.
    this.addSql(`create table walk_share_cards (
      walk_id uuid primary key references walks(id) on delete cascade,
      content_hash text not null,
      storage_key text not null,
      width int not null,
      height int not null,
      bytes int not null,
      created_at timestamptz not null default now()
    )`);
  }

  override down(): void {
    this.addSql('drop table if exists walk_share_cards');
  }
}
