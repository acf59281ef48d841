import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000308_walk_reminders extends Migration {
  override up(): void {
    // One walk reminder per walker per local day: the reminder job claims the day here before it
    // notifies, so two cron nodes running the job at the same moment remind each walker once.
    this.addSql(`create table walk_reminders (
      user_id uuid not null references users(id) on delete cascade,
      local_date date not null,
      usual_hour smallint not null check (usual_hour between 0 and 23),
      sent_at timestamptz not null,
      primary key (user_id, local_date)
    )`);
    // The reminder job's first step: walkers with a trusted walk at this local hour in the last weeks.
    this.addSql(`create index walks_trusted_hour_index on walks (local_hour, local_date) include (user_id) where trusted`);
    // Each walker's final rank of a closed KST week (both metrics), written once when the week closes
    // into the hall of fame; notified_at marks who has been told (services/walk/rankingResults.ts).
    this.addSql(`create table walk_ranking_results (
      period_start date not null,
      user_id uuid not null references users(id) on delete cascade,
      distance_rank integer not null,
      distance_m bigint not null,
      count_rank integer not null,
      walks integer not null,
      walkers integer not null,
      created_at timestamptz not null,
      notified_at timestamptz,
      primary key (period_start, user_id)
    )`);
    this.addSql(`create index walk_ranking_results_pending_index on walk_ranking_results (period_start, user_id) where notified_at is null`);
  }

  override down(): void {
    this.addSql('drop table if exists walk_ranking_results');
    this.addSql('drop index if exists walks_trusted_hour_index');
    this.addSql('drop table if exists walk_reminders');
  }
}
