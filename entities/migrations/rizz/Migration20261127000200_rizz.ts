import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000200_rizz extends Migration {
  override up(): void {
    // A paid photo job (seed 002). No accounts: the job (and its token, stored hashed) is the identity;
    // its payment belongs to a guest user row made for it, which holds no personal data. The phone is
    // kept as a keyed hash (lookup) and sealed (sending). Everything of a job goes 24 h after it was made.
    this.addSql(`create table rizz_jobs (
      id uuid primary key,
      status text not null check (status in ('pending_payment', 'pending_phone', 'pending_upload', 'processing', 'completed', 'failed')),
      token_hash text not null,
      guest_user_id uuid not null references users(id) deferrable initially deferred,
      order_id text,
      phone_hash text,
      phone_sealed text,
      failure_reason text,
      ai_analysis jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      expires_at timestamptz not null
    )`);
    this.addSql(`create index rizz_jobs_expires_index on rizz_jobs (expires_at)`);
    this.addSql(`create index rizz_jobs_status_index on rizz_jobs (status)`);
    this.addSql(`create unique index rizz_jobs_order_index on rizz_jobs (order_id) where order_id is not null`);
    this.addSql(`create table rizz_job_files (
      id uuid primary key,
      job_id uuid not null references rizz_jobs(id) on delete cascade deferrable initially deferred,
      kind text not null check (kind in ('original', 'crop', 'result')),
      storage_key text not null,
      content_type text not null,
      width integer,
      height integer,
      bytes integer not null,
      created_at timestamptz not null default now()
    )`);
    this.addSql(`create index rizz_job_files_job_index on rizz_job_files (job_id)`);
    this.addSql(`create table rizz_knowledge_base (
      code text primary key,
      category text not null,
      title text not null,
      description text not null,
      cost_min integer not null,
      cost_max integer not null,
      weeks_min integer not null,
      weeks_max integer not null
    )`);
    this.addSql(`create table rizz_job_recommendations (
      job_id uuid not null references rizz_jobs(id) on delete cascade deferrable initially deferred,
      code text not null references rizz_knowledge_base(code) deferrable initially deferred,
      area text not null,
      rank integer not null,
      primary key (job_id, code)
    )`);
    this.addSql(`create table rizz_survey_responses (
      job_id uuid primary key references rizz_jobs(id) on delete cascade deferrable initially deferred,
      rating integer not null check (rating between 1 and 5),
      answers jsonb not null default '{}',
      created_at timestamptz not null default now()
    )`);
  }
}
