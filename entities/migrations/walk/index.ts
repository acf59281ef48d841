// The walk module's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127000300_walk } from './Migration20261127000300_walk.ts';

export const walkMigrations: MigrationObject[] = [
  { name: 'Migration20261127000300_walk', class: Migration20261127000300_walk },
];
