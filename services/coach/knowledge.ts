// The coach's knowledge base: documents of a game are chunked, long chunks condensed by the LLM,
// chunks embedded and stored; retrieval embeds the question and asks the VectorIndex for the
// top-k passages that match the game, the category and every requested tag. The SQL is in knowledge.sql.ts.
import crypto from 'node:crypto';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { LlmModule } from '../llm/gateway.ts';
import { countTextTokens } from '../llm/tokens.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { chunkDocument, CHUNKING_DEFAULTS } from './chunking.ts';
import {
  KB_BUMP_VERSION, KB_DELETE_DOCUMENT_CHUNKS, KB_DOCUMENT_BY_KEY, KB_DOCUMENT_BY_KEY_FOR_UPDATE, KB_GAMES, KB_INSERT_CHUNK, KB_INSERT_DOCUMENT, KB_PASSAGES,
  KB_UPDATE_DOCUMENT, KB_VERSION,
} from './knowledge.sql.ts';
import { pgArray } from '../pgArray.ts';
import type { VectorIndex } from './vectorIndex.ts';

const slug = z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lowercase letters, digits, "-" or "_" (at most 40)');
const tag = z.string().trim().toLowerCase().regex(/^[\p{L}\p{N}][\p{L}\p{N}_ -]{0,39}$/u, 'letters, digits, " ", "-" or "_" (at most 40)');

export const gameSchema = slug;
export const categorySchema = slug;
export const tagsSchema = z.array(tag).max(20).transform((tags) => [...new Set(tags)].sort());

export const MAX_DOCUMENT_CHARACTERS = 100_000;

export const knowledgeDocumentSchema = z.object({
  game: gameSchema,
  // How the game is shown in GET /api/coach/games; kept from the last document that names it.
  gameTitle: z.string().trim().min(1).max(80).optional(),
  category: categorySchema.nullish().transform((v) => v ?? null),
  tags: tagsSchema.default([]),
  title: z.string().trim().min(1).max(200),
  content: z.string().trim().min(1).max(MAX_DOCUMENT_CHARACTERS),
  url: z.url({ protocol: /^https?$/ }).max(2000).nullish().transform((v) => v ?? null),
});
export type KnowledgeDocument = z.output<typeof knowledgeDocumentSchema>;
export type KnowledgeDocumentInput = z.input<typeof knowledgeDocumentSchema>;

export type Passage = {
  chunkId: string;
  documentId: string;
  title: string;
  text: string;
  score: number;
  url: string | null;
  category: string | null;
  tags: string[];
};

export type GameSummary = { game: string; title: string; documents: number; chunks: number; version: number };

export type RetrieveInput = { game: string; category?: string | null; tags?: string[]; query: string; topK?: number; signal?: AbortSignal };
export type Retrieval = { passages: Passage[]; kbVersion: number; queryEmbedding: number[] };

export type IngestStatus = 'created' | 'updated' | 'unchanged';
export type IngestedDocument = { game: string; title: string; documentId: string; status: IngestStatus; chunks: number; summarizedChunks: number };
export type IngestReport = { documents: IngestedDocument[]; versions: Record<string, number>; costUsd: number };
export type IngestOptions = {
  signal?: AbortSignal;
  // Called after each document, with its index in the input: progress bars and logs.
  onDocument?: (done: IngestedDocument, index: number) => void;
};

export type KnowledgeOptions = {
  em: Em;
  llm: LlmModule;
  index: VectorIndex;
  logger: Logger;
  // Chunks longer than this are condensed by the LLM before they are stored (seed 001: 1,200).
  summarizeAboveTokens?: number;
  chunking?: { minTokens?: number; maxTokens?: number; overlapTokens?: number };
  // Told after a game's knowledge changed (its version moved), e.g. to drop cached answers.
  onGameChanged?: (game: string, version: number) => Promise<void> | void;
};

// Display names of the games the repository ships knowledge for; others show their gameTitle or slug.
const KNOWN_TITLES: Record<string, string> = { lol: '리그 오브 레전드', valorant: '발로란트' };

const SUMMARY_SYSTEM_PROMPT = [
  '당신은 게임 공략 지식 베이스를 정리하는 편집자입니다.',
  '주어진 글을 한국어로 요약하되, 수치·시간·아이템·스킬·챔피언/요원 이름 등 구체적인 사실은 빠짐없이 보존하세요.',
  '원문에 없는 내용은 추가하지 말고, 600 토큰 이내의 문단 몇 개로 작성하세요.',
].join('\n');

export function createKnowledgeService(opts: KnowledgeOptions) {
  const { em, llm, index, logger } = opts;
  const summarizeAbove = opts.summarizeAboveTokens ?? 1200;
  const chunking = { ...CHUNKING_DEFAULTS, ...opts.chunking };

  async function games(): Promise<GameSummary[]> {
    const rows = await em.fork().execute<{ game: string; title: string; version: number; documents: string; chunks: string }[]>(KB_GAMES);
    return rows
      .map((r) => ({ game: r.game, title: r.title, documents: Number(r.documents), chunks: Number(r.chunks), version: r.version }))
      .filter((g) => g.chunks > 0);
  }

  async function version(game: string): Promise<number> {
    const [row] = await em.fork().execute<{ version: number }[]>(KB_VERSION, [game]);
    return row?.version ?? 0;
  }

  async function retrieve(input: RetrieveInput): Promise<Retrieval> {
    const game = input.game.trim().toLowerCase();
    const category = input.category ? input.category.trim().toLowerCase() : null;
    const tags = [...new Set((input.tags ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean))];
    const topK = Math.min(50, Math.max(1, Math.floor(input.topK ?? 5)));
    // Read before searching: a concurrent ingest can only make the version we report older, never
    // newer than the passages, so an answer is never cached under knowledge it did not see.
    const kbVersion = await version(game);
    const embedded = await llm.embed([input.query], { signal: input.signal });
    const queryEmbedding = embedded.vectors[0];
    const hits = await index.search({ game, category, tags, model: embedded.model, dimensions: queryEmbedding.length }, queryEmbedding, topK);
    if (hits.length === 0) return { passages: [], kbVersion, queryEmbedding };
    const rows = await em.fork().execute<{ id: string; document_id: string; title: string; text: string; source_url: string | null; category: string | null; tags: string[] }[]>(
      KB_PASSAGES,
      [pgArray(hits.map((h) => h.chunkId))],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const passages = hits.flatMap((h) => {
      const r = byId.get(h.chunkId);
      // Gone between the search and this read (replaced by an ingest): leave it out.
      if (!r) return [];
      return [{ chunkId: r.id, documentId: r.document_id, title: r.title, text: r.text, score: h.score, url: r.source_url, category: r.category, tags: r.tags }];
    });
    return { passages, kbVersion, queryEmbedding };
  }

  async function ingest(input: KnowledgeDocumentInput[], o: IngestOptions = {}): Promise<IngestReport> {
    const documents: IngestedDocument[] = [];
    const versions: Record<string, number> = {};
    let costUsd = 0;
    for (const [i, raw] of input.entries()) {
      o.signal?.throwIfAborted();
      const doc = knowledgeDocumentSchema.parse(raw);
      const outcome = await ingestOne(doc, o.signal);
      costUsd += outcome.costUsd;
      documents.push(outcome.document);
      if (outcome.version !== undefined) {
        versions[doc.game] = outcome.version;
        await notifyChanged(doc.game, outcome.version);
      }
      o.onDocument?.(outcome.document, i);
    }
    return { documents, versions, costUsd };
  }

  async function notifyChanged(game: string, v: number): Promise<void> {
    try {
      await opts.onGameChanged?.(game, v);
    } catch (err) {
      // The version bump already keeps stale answers out of the cache keys; this is housekeeping.
      logger.warn({ err, game }, 'coach knowledge change hook failed');
    }
  }

  async function ingestOne(doc: KnowledgeDocument, signal?: AbortSignal): Promise<{ document: IngestedDocument; version?: number; costUsd: number }> {
    const docKey = doc.url ?? doc.title;
    const hash = contentHash(doc);
    const [existing] = await em.fork().execute<{ id: string; content_hash: string; chunks: string }[]>(KB_DOCUMENT_BY_KEY, [doc.game, docKey]);
    const unchanged = (id: string, chunks: number) => ({ document: { game: doc.game, title: doc.title, documentId: id, status: 'unchanged' as const, chunks, summarizedChunks: 0 }, costUsd: 0 });
    if (existing?.content_hash === hash) return unchanged(existing.id, Number(existing.chunks));

    // The LLM work happens before the transaction opens: no row lock is held across network calls.
    let costUsd = 0;
    const pieces = chunkDocument(doc.content, { countTokens: countTextTokens, ...chunking });
    const chunks: { text: string; tokens: number; summarized: boolean }[] = [];
    for (const piece of pieces) {
      if (piece.tokens <= summarizeAbove) {
        chunks.push({ ...piece, summarized: false });
        continue;
      }
      const summary = await llm.chat({
        messages: [{ role: 'system', content: SUMMARY_SYSTEM_PROMPT }, { role: 'user', content: `문서 제목: ${doc.title}\n\n${piece.text}` }],
        maxTokens: chunking.maxTokens + 100,
        temperature: 0,
        signal,
      });
      costUsd += summary.costUsd;
      const text = summary.text.trim() || piece.text;
      chunks.push({ text, tokens: countTextTokens(text), summarized: true });
    }
    // The title travels with each chunk's text into the embedding: a paragraph alone often lacks its subject.
    const embedded = await llm.embed(chunks.map((c) => `${doc.title}\n${c.text}`), { signal });
    costUsd += embedded.costUsd;

    return inTransaction(em.fork(), async (tx) => {
      const id: string = crypto.randomUUID();
      const inserted = await tx.execute<{ id: string }[]>(
        KB_INSERT_DOCUMENT,
        [id, doc.game, docKey, doc.category, pgArray(doc.tags), doc.title, doc.url, hash],
      );
      let documentId = id;
      let status: IngestStatus = 'created';
      if (inserted.length === 0) {
        // Locked, so two ingests of the same document cannot interleave their chunk writes.
        const [row] = await tx.execute<{ id: string; content_hash: string; chunks: string }[]>(KB_DOCUMENT_BY_KEY_FOR_UPDATE, [doc.game, docKey]);
        if (row.content_hash === hash) return unchanged(row.id, Number(row.chunks));
        documentId = row.id;
        status = 'updated';
        await tx.execute(KB_UPDATE_DOCUMENT, [doc.category, pgArray(doc.tags), doc.title, doc.url, hash, documentId]);
        await tx.execute(KB_DELETE_DOCUMENT_CHUNKS, [documentId]);
      }
      const rows = chunks.map((c, ordinal) => ({ id: crypto.randomUUID(), ordinal, ...c, embedding: embedded.vectors[ordinal] }));
      for (const r of rows) {
        await tx.execute(
          KB_INSERT_CHUNK,
          [r.id, documentId, doc.game, doc.category, pgArray(doc.tags), r.ordinal, r.text, r.tokens, r.summarized, pgArray(r.embedding), r.embedding.length, embedded.model],
        );
      }
      await index.indexChunks(tx, rows.map((r) => ({ id: r.id, embedding: r.embedding })));
      const [v] = await tx.execute<{ version: number }[]>(
        KB_BUMP_VERSION,
        [doc.game, doc.gameTitle ?? KNOWN_TITLES[doc.game] ?? doc.game, doc.gameTitle ?? null],
      );
      logger.info({ game: doc.game, documentId, status, chunks: rows.length, version: v.version }, 'coach knowledge document ingested');
      return {
        document: { game: doc.game, title: doc.title, documentId, status, chunks: rows.length, summarizedChunks: rows.filter((r) => r.summarized).length },
        version: v.version,
        costUsd,
      };
    });
  }

  return { games, version, retrieve, ingest };
}

export type KnowledgeService = ReturnType<typeof createKnowledgeService>;

// Everything that shapes the stored chunks: any change makes the document "changed".
function contentHash(doc: KnowledgeDocument): string {
  const canonical = JSON.stringify([doc.title, doc.category, doc.tags, doc.url, doc.content.replace(/\r\n?/g, '\n')]);
  return crypto.createHash('sha256').update(canonical).digest('hex');
}
