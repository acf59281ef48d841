// The character chat's migrations, in order (names are what the migrations table records: never rename one).
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127000100_chat } from './Migration20261127000100_chat.ts';
import { Migration20261127000101_chat_stories } from './Migration20261127000101_chat_stories.ts';

export const chatMigrations: MigrationObject[] = [
  { name: 'Migration20261127000100_chat', class: Migration20261127000100_chat },
  { name: 'Migration20261127000101_chat_stories', class: Migration20261127000101_chat_stories },
];
