// The walk module's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127000300_walk } from './Migration20261127000300_walk.ts';
import { Migration20261127000301_walk_badges } from './Migration20261127000301_walk_badges.ts';
import { Migration20261127000302_walk_rankings } from './Migration20261127000302_walk_rankings.ts';
import { Migration20261127000303_walk_together } from './Migration20261127000303_walk_together.ts';
import { Migration20261127000304_walk_meetups } from './Migration20261127000304_walk_meetups.ts';
import { Migration20261127000305_walk_outside } from './Migration20261127000305_walk_outside.ts';
import { Migration20261127000306_walk_social } from './Migration20261127000306_walk_social.ts';
import { Migration20261127000307_walk_invitations } from './Migration20261127000307_walk_invitations.ts';
import { Migration20261127000308_walk_reminders } from './Migration20261127000308_walk_reminders.ts';
import { Migration20261127000309_walk_subscriptions } from './Migration20261127000309_walk_subscriptions.ts';
import { Migration20261127000315_walk_share_cards } from './Migration20261127000315_walk_share_cards.ts';

export const walkMigrations: MigrationObject[] = [
  { name: 'Migration20261127000300_walk', class: Migration20261127000300_walk },
  { name: 'Migration20261127000301_walk_badges', class: Migration20261127000301_walk_badges },
  { name: 'Migration20261127000302_walk_rankings', class: Migration20261127000302_walk_rankings },
  { name: 'Migration20261127000303_walk_together', class: Migration20261127000303_walk_together },
  { name: 'Migration20261127000304_walk_meetups', class: Migration20261127000304_walk_meetups },
  { name: 'Migration20261127000305_walk_outside', class: Migration20261127000305_walk_outside },
  { name: 'Migration20261127000306_walk_social', class: Migration20261127000306_walk_social },
  { name: 'Migration20261127000307_walk_invitations', class: Migration20261127000307_walk_invitations },
  { name: 'Migration20261127000308_walk_reminders', class: Migration20261127000308_walk_reminders },
  { name: 'Migration20261127000309_walk_subscriptions', class: Migration20261127000309_walk_subscriptions },
  { name: 'Migration20261127000315_walk_share_cards', class: Migration20261127000315_walk_share_cards },
];
