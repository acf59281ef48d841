import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000043_rankings extends Migration {
  override up(): void {
    // Live scores of the platform's rankings (services/rankings/): one row per board, period and item,
    // moved by an upsert (`score = score + ?`), so concurrent adds are exact. Postgres is the source
    // of truth; Redis sorted sets, when configured, are rebuilt from these rows.
    // item_id is `collate "C"` (byte order) so that ties order the same here as in Redis, which
    // orders equal scores by member bytes. `version` counts the row's updates: Redis takes a value
    // only when its version is newer, so late or replayed writes never go backwards.
    this.addSql(`create table ranking_scores (
      board text not null,
      period_kind text not null check (period_kind in ('daily', 'weekly', 'monthly', 'all')),
      period_start date not null,
      item_id text collate "C" not null,
      score bigint not null,
      version bigint not null default 1,
      primary key (board, period_kind, period_start, item_id)
    )`);
    // Top N and "rows ahead of mine" read this index in the order Redis ranks.
    this.addSql(`create index ranking_scores_order_index on ranking_scores (board, period_kind, period_start, score desc, item_id desc)`);
    // A day's closing ranks, per period holding that day; written again whole when re-run.
    this.addSql(`create table ranking_snapshots (
      board text not null,
      period_kind text not null check (period_kind in ('daily', 'weekly', 'monthly', 'all')),
      period_start date not null,
      day date not null,
      item_id text collate "C" not null,
      rank integer not null,
      score bigint not null,
      primary key (board, day, period_kind, rank)
    )`);
    // An item's history ("my rank on each day").
    this.addSql(`create index ranking_snapshots_item_index on ranking_snapshots (board, item_id, day)`);
  }
}
