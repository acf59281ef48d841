import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// A game's knowledge version: bumped whenever its documents change, so answers cached against an
// older version are never served again.
export const KbVersion = defineEntity({
  name: 'KbVersion',
  tableName: 'kb_versions',
  properties: {
    game: p.string().primary(),
    title: p.text(),
    version: p.integer().default(0),
    updatedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type KbVersion = InferEntity<typeof KbVersion>;
