import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000203_rizz_generation_run extends Migration {
  override up(): void {
    // The generation run that owns a processing job: each run of the queue's handler takes the job
    // over by writing a new id, and every write it makes is fenced on that id, so a run that lost
    // its job (its node stalled past the queue's expiry and another run took over) writes nothing more.
    this.addSql(`alter table rizz_jobs add column generation_run uuid`);
    // Which provider made a result and its id there (a Replicate prediction), so the 24-hour
    // deletion can ask the provider to forget it.
    this.addSql(`alter table rizz_job_files add column provider text, add column provider_ref text`);
  }
}
