import { Migration } from '@mikro-orm/migrations';

export class Migration20261127000037_coach_answer_quota extends Migration {
  override up(): void {
    // Whether the call an answer took from the plan's quota was given back (an answer interrupted,
    // lost with its node, or failed inside the server does not count), so operators can tell.
    this.addSql(`alter table coach_answers add column quota_returned boolean not null default false`);
    // The stream sweep looks for answers left streaming by a node that died.
    this.addSql(`create index coach_answers_streaming_index on coach_answers (created_at) where status = 'streaming'`);
  }
}
