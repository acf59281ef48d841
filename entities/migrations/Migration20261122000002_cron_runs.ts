import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000002_cron_runs extends Migration {
  override up(): void {
    this.addSql(`create table cron_runs (
      id bigserial primary key,
      job_name text not null,
      slot timestamptz not null,
      node text not null,
      status text not null check (status in ('running', 'succeeded', 'failed')),
      started_at timestamptz not null,
      finished_at timestamptz,
      error text,
      result jsonb,
      constraint cron_runs_job_name_slot_unique unique (job_name, slot)
    )`);
    this.addSql(`create index cron_runs_started_at_index on cron_runs (started_at)`);
  }

  override down(): void {
    this.addSql('drop table if exists cron_runs');
  }
}
