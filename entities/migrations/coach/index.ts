// The coach's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122000030_coach } from './Migration20261122000030_coach.ts';
import { Migration20261122000031_coach_knowledge } from './Migration20261122000031_coach_knowledge.ts';
import { Migration20261122000036_coach_checkouts } from './Migration20261122000036_coach_checkouts.ts';
import { Migration20261127000001_coach_checkout_settlement } from './Migration20261127000001_coach_checkout_settlement.ts';
import { Migration20261127000037_coach_answer_quota } from './Migration20261127000037_coach_answer_quota.ts';

export const coachMigrations: MigrationObject[] = [
  { name: 'Migration20261122000030_coach', class: Migration20261122000030_coach },
  { name: 'Migration20261122000031_coach_knowledge', class: Migration20261122000031_coach_knowledge },
  { name: 'Migration20261122000036_coach_checkouts', class: Migration20261122000036_coach_checkouts },
  { name: 'Migration20261127000001_coach_checkout_settlement', class: Migration20261127000001_coach_checkout_settlement },
  { name: 'Migration20261127000037_coach_answer_quota', class: Migration20261127000037_coach_answer_quota },
];
