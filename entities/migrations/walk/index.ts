// The walk module's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127000300_walk } from './Migration20261127000300_walk.ts';
import { Migration20261127000301_walk_badges } from './Migration20261127000301_walk_badges.ts';
import { Migration20261127000302_walk_rankings } from './Migration20261127000302_walk_rankings.ts';
import { Migration20261127000303_walk_together } from './Migration20261127000303_walk_together.ts';
import { Migration20261127000304_walk_meetups } from './Migration20261127000304_walk_meetups.ts';
import { Migration20261127000305_walk_outside } from './Migration20261127000305_walk_outside.ts';
import { Migration20261127000306_walk_social } from './Migration20261127000306_walk_social.ts';

export const walkMigrations: MigrationObject[] = [
  { name: 'Migration20261127000300_walk', class: Migration20261127000300_walk },
  { name: 'Migration20261127000301_walk_badges', class: Migration20261127000301_walk_badges },
  { name: 'Migration20261127000302_walk_rankings', class: Migration20261127000302_walk_rankings },
  { name: 'Migration20261127000303_walk_together', class: Migration20261127000303_walk_together },
  { name: 'Migration20261127000304_walk_meetups', class: Migration20261127000304_walk_meetups },
  { name: 'Migration20261127000305_walk_outside', class: Migration20261127000305_walk_outside },
  { name: 'Migration20261127000306_walk_social', class: Migration20261127000306_walk_social },
];
