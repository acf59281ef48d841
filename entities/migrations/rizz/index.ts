// The rizz module's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127000200_rizz } from './Migration20261127000200_rizz.ts';
import { Migration20261127000201_rizz_receipts } from './Migration20261127000201_rizz_receipts.ts';
import { Migration20261127000202_rizz_verify } from './Migration20261127000202_rizz_verify.ts';
import { Migration20261127000203_rizz_generation_run } from './Migration20261127000203_rizz_generation_run.ts';

export const rizzMigrations: MigrationObject[] = [
  { name: 'Migration20261127000200_rizz', class: Migration20261127000200_rizz },
  { name: 'Migration20261127000201_rizz_receipts', class: Migration20261127000201_rizz_receipts },
  { name: 'Migration20261127000202_rizz_verify', class: Migration20261127000202_rizz_verify },
  { name: 'Migration20261127000203_rizz_generation_run', class: Migration20261127000203_rizz_generation_run },
];
