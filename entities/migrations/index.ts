// The platform's migrations, listed explicitly rather than discovered by glob: the order is
// reviewable and the list works the same from source (.ts) in every environment. Each module lists
// its own (entities/migrations/<module>/index.ts); they run after these, in the module list's order.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122000001_identity } from './Migration20261122000001_identity.ts';
import { Migration20261122000002_cron_runs } from './Migration20261122000002_cron_runs.ts';
import { Migration20261122000010_notifications } from './Migration20261122000010_notifications.ts';
import { Migration20261122000020_payments } from './Migration20261122000020_payments.ts';
import { Migration20261122000032_email_encryption } from './Migration20261122000032_email_encryption.ts';
import { Migration20261122000037_seed_runs } from './Migration20261122000037_seed_runs.ts';
import { Migration20261127000040_points } from './Migration20261127000040_points.ts';
import { Migration20261127000041_product_management } from './Migration20261127000041_product_management.ts';
import { Migration20261127000042_social } from './Migration20261127000042_social.ts';
import { Migration20261127000043_rankings } from './Migration20261127000043_rankings.ts';
import { Migration20261128000044_session_app } from './Migration20261128000044_session_app.ts';
import { Migration20261128000045_notification_type_switches } from './Migration20261128000045_notification_type_switches.ts';
import { Migration20261128000046_subscription_billing } from './Migration20261128000046_subscription_billing.ts';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261122000001_identity', class: Migration20261122000001_identity },
  { name: 'Migration20261122000002_cron_runs', class: Migration20261122000002_cron_runs },
  { name: 'Migration20261122000010_notifications', class: Migration20261122000010_notifications },
  { name: 'Migration20261122000020_payments', class: Migration20261122000020_payments },
  { name: 'Migration20261122000032_email_encryption', class: Migration20261122000032_email_encryption },
  { name: 'Migration20261122000037_seed_runs', class: Migration20261122000037_seed_runs },
  { name: 'Migration20261127000040_points', class: Migration20261127000040_points },
  { name: 'Migration20261127000041_product_management', class: Migration20261127000041_product_management },
  { name: 'Migration20261127000042_social', class: Migration20261127000042_social },
  { name: 'Migration20261127000043_rankings', class: Migration20261127000043_rankings },
  { name: 'Migration20261128000044_session_app', class: Migration20261128000044_session_app },
  { name: 'Migration20261128000045_notification_type_switches', class: Migration20261128000045_notification_type_switches },
  { name: 'Migration20261128000046_subscription_billing', class: Migration20261128000046_subscription_billing },
];
