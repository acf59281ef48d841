import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// One ingested knowledge document of a game; its text lives in its chunks.
export const KbDocument = defineEntity({
  name: 'KbDocument',
  tableName: 'kb_documents',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    game: p.string(),
    // The source URL, else the title: what makes a re-ingest "the same document".
    docKey: p.text(),
    category: p.string().nullable(),
    tags: p.array<string>().default([]),
    title: p.text(),
    sourceUrl: p.text().nullable(),
    contentHash: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type KbDocument = InferEntity<typeof KbDocument>;
