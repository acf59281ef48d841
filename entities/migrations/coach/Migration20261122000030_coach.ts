import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000030_coach extends Migration {
  override up(): void {
    // The plan table of seed 001: one row per tier, seeded as reference data.
    this.addSql(`create table coach_plans (
      tier text primary key,
      name text not null,
      model text not null,
      max_prompt_tokens integer not null check (max_prompt_tokens > 0),
      max_answer_tokens integer not null check (max_answer_tokens > 0),
      call_limit integer not null check (call_limit > 0),
      call_period text not null check (call_period in ('week', 'month')),
      sort_order integer not null default 0
    )`);
    this.addSql(`create table coach_profiles (
      user_id uuid primary key references users(id) on delete cascade deferrable initially deferred,
      plan_tier text not null default 'free' references coach_plans(tier) deferrable initially deferred,
      plan_expires_at timestamptz,
      cancel_at_period_end boolean not null default false,
      updated_at timestamptz not null default now()
    )`);
    // Calls counted per user per KST calendar week/month; the guarded increment enforces the limit.
    this.addSql(`create table coach_usage (
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      period_start timestamptz not null,
      calls integer not null default 0 check (calls >= 0),
      primary key (user_id, period_start)
    )`);
    this.addSql(`create table coach_quota_refusals (
      id bigserial primary key,
      user_id uuid not null,
      plan_tier text not null,
      refused_at timestamptz not null default now()
    )`);
    this.addSql(`create index coach_quota_refusals_refused_at_index on coach_quota_refusals (refused_at)`);
    // Every ask, its answer and what it cost: history for the user, the call log for operators.
    this.addSql(`create table coach_answers (
      id uuid primary key,
      user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
      game text not null,
      category text,
      tags text[] not null default '{}',
      question text not null,
      answer text not null default '',
      status text not null check (status in ('streaming', 'done', 'failed', 'cancelled')),
      plan_tier text not null,
      model text,
      provider text,
      prompt_tokens integer not null default 0,
      completion_tokens integer not null default 0,
      cost_usd numeric(12, 6) not null default 0,
      is_cached boolean not null default false,
      cache_kind text check (cache_kind in ('exact', 'semantic')),
      sources jsonb not null default '[]',
      latency_ms integer,
      error_code text,
      created_at timestamptz not null default now(),
      finished_at timestamptz
    )`);
    this.addSql(`create index coach_answers_user_created_index on coach_answers (user_id, created_at desc, id desc)`);
    this.addSql(`create index coach_answers_created_at_index on coach_answers (created_at)`);
  }

  override down(): void {
    for (const t of ['coach_answers', 'coach_quota_refusals', 'coach_usage', 'coach_profiles', 'coach_plans']) this.addSql(`drop table if exists ${t}`);
  }
}
