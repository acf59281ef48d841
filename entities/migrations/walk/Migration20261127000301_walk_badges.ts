import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000301_walk_badges extends Migration {
  override up(): void {
    // The 47 badges (seed 003), written from services/walk/badgeDefinitions.ts by the module's seed at
    // every migration. `rule` is data (a small JSON rule language, services/walk/badgeDefinitions.ts) and
    // `rule_version` its hash; `applied_version` is the version every walker was last re-evaluated
    // against, so a rule changed in code shows up as rule_version <> applied_version and the
    // walk-badges-reevaluate cron job takes every walker through it. A badge taken out of the code
    // is deactivated, never deleted: people who earned it keep it.
    this.addSql(`create table walk_badge_definitions (
      code text primary key,
      category text not null check (category in ('distance', 'count', 'streak', 'time', 'places', 'social')),
      name text not null,
      description text not null,
      tier smallint not null,
      rule jsonb not null,
      rule_version text not null,
      applied_version text,
      sort_order integer not null,
      active boolean not null default true,
      updated_at timestamptz not null default now()
    )`);
    // Each walker's progress on each badge, written whole by every evaluation (a trusted walk, the
    // re-evaluation job). `earned_by` is the evaluation that earned it: one upsert both earns the
    // badge and tells its evaluation whether it was the one that did (Postgres 15 has no RETURNING
    // old.*), so two evaluations racing earn and announce it once.
    this.addSql(`create table walk_user_badges (
      user_id uuid not null references users(id) on delete cascade,
      badge_code text not null references walk_badge_definitions(code),
      status text not null check (status in ('locked', 'in_progress', 'earned')),
      current numeric not null,
      target numeric not null,
      earned_at timestamptz,
      earned_by uuid,
      rule_version text not null,
      updated_at timestamptz not null default now(),
      primary key (user_id, badge_code),
      check ((status = 'earned') = (earned_at is not null))
    )`);
    // Someone's earned badges, newest first (GET /walk/users/:id/badges).
    this.addSql(`create index walk_user_badges_earned_index on walk_user_badges (user_id, earned_at desc) where status = 'earned'`);
    // Where the re-evaluation of every walker stands: the rule versions it is for and the last user
    // done (users are taken in id order), so a run that dies or runs out of time is continued by the
    // next one instead of starting over.
    this.addSql(`create table walk_badge_reevaluations (
      name text primary key,
      versions jsonb not null,
      after_user_id uuid,
      users_done integer not null default 0,
      started_at timestamptz not null,
      updated_at timestamptz not null,
      finished_at timestamptz
    )`);
  }
}
