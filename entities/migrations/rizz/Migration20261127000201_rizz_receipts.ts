import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000201_rizz_receipts extends Migration {
  override up(): void {
    // What the 24-hour deletion removed for a job: counts and when, nothing personal. Written only once
    // the job's storage objects and rows are both gone.
    this.addSql(`create table rizz_deletion_receipts (
      job_id uuid primary key,
      job_created_at timestamptz not null,
      expired_at timestamptz not null,
      deleted_at timestamptz not null default now(),
      deleted jsonb not null
    )`);
  }
}
