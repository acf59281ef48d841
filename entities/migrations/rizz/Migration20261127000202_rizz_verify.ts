import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000202_rizz_verify extends Migration {
  override up(): void {
    // Wrong phone tries on a job's result, per client (its address): three in a row block that client
    // from that job for an hour (seed 002 §5.1). Deleted with the job.
    this.addSql(`create table rizz_verify_attempts (
      job_id uuid not null references rizz_jobs(id) on delete cascade deferrable initially deferred,
      client_key text not null,
      failures integer not null default 0,
      blocked_until timestamptz,
      primary key (job_id, client_key)
    )`);
  }
}
