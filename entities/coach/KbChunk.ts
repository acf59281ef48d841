import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// A retrievable passage of a document with its embedding (real[]; pgvector keeps a copy where present).
export const KbChunk = defineEntity({
  name: 'KbChunk',
  tableName: 'kb_chunks',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    documentId: p.uuid(),
    game: p.string(),
    category: p.string().nullable(),
    tags: p.array<string>().default([]),
    ordinal: p.integer(),
    text: p.text(),
    tokenCount: p.integer(),
    summarized: p.boolean().default(false),
    embedding: p.array<number>((v) => Number(v), (v) => String(v)).columnType('real[]'),
    dimensions: p.integer(),
    model: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type KbChunk = InferEntity<typeof KbChunk>;
