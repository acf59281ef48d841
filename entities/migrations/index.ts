// Migrations are listed explicitly rather than discovered by glob: the order is reviewable and
// the list works the same from source (.ts) in every environment.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122000001_identity } from './Migration20261122000001_identity.ts';
import { Migration20261122000002_cron_runs } from './Migration20261122000002_cron_runs.ts';
import { Migration20261122000010_notifications } from './Migration20261122000010_notifications.ts';
import { Migration20261122000020_payments } from './Migration20261122000020_payments.ts';
import { Migration20261122000030_coach } from './Migration20261122000030_coach.ts';
import { Migration20261122000031_coach_knowledge } from './Migration20261122000031_coach_knowledge.ts';
import { Migration20261122000032_email_encryption } from './Migration20261122000032_email_encryption.ts';
import { Migration20261122000036_coach_checkouts } from './Migration20261122000036_coach_checkouts.ts';
import { Migration20261122000037_seed_runs } from './Migration20261122000037_seed_runs.ts';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261122000001_identity', class: Migration20261122000001_identity },
  { name: 'Migration20261122000002_cron_runs', class: Migration20261122000002_cron_runs },
  { name: 'Migration20261122000010_notifications', class: Migration20261122000010_notifications },
  { name: 'Migration20261122000020_payments', class: Migration20261122000020_payments },
  { name: 'Migration20261122000030_coach', class: Migration20261122000030_coach },
  { name: 'Migration20261122000031_coach_knowledge', class: Migration20261122000031_coach_knowledge },
  { name: 'Migration20261122000032_email_encryption', class: Migration20261122000032_email_encryption },
  { name: 'Migration20261122000036_coach_checkouts', class: Migration20261122000036_coach_checkouts },
  { name: 'Migration20261122000037_seed_runs', class: Migration20261122000037_seed_runs },
];
