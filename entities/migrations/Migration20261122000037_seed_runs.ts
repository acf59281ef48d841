import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000037_seed_runs extends Migration {
  override up(): void {
    // Data the server loads on its first start (the shipped coach knowledge). A row is written
    // when a seed starts and completed when it finishes, so a seed cut short (Ctrl-C, a deploy)
    // resumes at the next start instead of leaving a partial set that looks like an operator's own.
    this.addSql(`create table seed_runs (
      name text primary key,
      started_at timestamptz not null default now(),
      completed_at timestamptz
    )`);
  }

  override down(): void {
    this.addSql('drop table if exists seed_runs');
  }
}
