// Where chunk embeddings are searched. Two implementations behind one interface, chosen at the
// first use (ARCHITECTURE.md, "Geo and vectors without extensions"):
// - pgvector, where `create extension if not exists vector` succeeds: a vector copy of each chunk's
//   embedding in kb_chunk_vectors_<dims> with an HNSW cosine index;
// - exact: embeddings stay real[] in kb_chunks, SQL picks the rows that pass the filters, and the
//   cosine top-k over them runs in a Piscina worker (workers/vector.ts).
// Both filter the same way (game AND category AND every requested tag, same embedding model and
// size), score as cosine similarity, and order by score, then chunk id. The SQL is in vectorIndex.sql.ts.
import type { Logger } from 'pino';
import type { WorkerPool } from '../../workers/pool.ts';
import type { Em } from '../transaction.ts';
import {
  chunkFilter, copyChunksIntoVectorTable, CREATE_VECTOR_EXTENSION, createVectorHnswIndex, createVectorTable, EXACT_MATRIX_ROWS, exactCandidates,
  LOCK_CHUNKS_FOR_VECTOR_TABLE, nearestChunks, SET_ITERATIVE_SCAN, setEfSearch, TABLE_EXISTS, upsertChunkVector, VECTOR_EXTENSION_VERSION, vectorTable,
} from './vectorIndex.sql.ts';

export type VectorFilter = {
  game: string;
  category?: string | null;
  // Every one must be on the chunk.
  tags?: string[];
  // Vectors of another model or size are not comparable with the query's.
  model: string;
  dimensions: number;
};

export type VectorHit = { chunkId: string; score: number };

export type VectorIndexKind = 'pgvector' | 'exact';

export type VectorIndex = {
  kind: () => Promise<VectorIndexKind>;
  // Inside the transaction that wrote the chunks (their real[] embeddings are already stored).
  indexChunks: (tx: Em, chunks: { id: string; embedding: number[] }[]) => Promise<void>;
  search: (filter: VectorFilter, query: number[], topK: number) => Promise<VectorHit[]>;
};

export type VectorIndexOptions = {
  em: Em;
  pool: WorkerPool;
  logger: Logger;
  mode: 'auto' | 'pgvector' | 'exact';
  // HNSW candidate list per query (pgvector's hnsw.ef_search).
  efSearch?: number;
};

export function createVectorIndex(opts: VectorIndexOptions): VectorIndex {
  let chosen: Promise<VectorIndex> | undefined;
  const choose = () => (chosen ??= pick(opts).catch((err) => {
    chosen = undefined;
    throw err;
  }));
  return {
    kind: async () => (await choose()).kind(),
    indexChunks: async (tx, chunks) => (await choose()).indexChunks(tx, chunks),
    search: async (filter, query, topK) => (await choose()).search(filter, query, topK),
  };
}

async function pick(opts: VectorIndexOptions): Promise<VectorIndex> {
  if (opts.mode === 'exact') return createExactIndex(opts);
  const version = await enablePgvector(opts.em);
  if (version) {
    opts.logger.info({ pgvector: version }, 'coach knowledge search runs on pgvector');
    return createPgvectorIndex({ ...opts, version });
  }
  if (opts.mode === 'pgvector') throw new Error('COACH_VECTOR_INDEX=pgvector but the vector extension cannot be created on this database');
  opts.logger.info('pgvector is not available: coach knowledge search runs exact cosine top-k in the worker pool');
  return createExactIndex(opts);
}

async function enablePgvector(em: Em): Promise<string | null> {
  try {
    await em.fork().execute(CREATE_VECTOR_EXTENSION);
    const [row] = await em.fork().execute<{ extversion: string }[]>(VECTOR_EXTENSION_VERSION);
    return row?.extversion ?? null;
  } catch {
    return null;
  }
}

// --- exact top-k in a worker over real[] embeddings

type Matrix = { version: number; ids: string[]; rowOf: Map<string, number>; matrix: Float32Array };

export function createExactIndex(opts: { em: Em; pool: WorkerPool }): VectorIndex {
  // Each (game, model, dimensions) keeps its vectors in a SharedArrayBuffer, reloaded when the
  // game's knowledge version moves: a query then posts only row numbers to the worker.
  const matrices = new Map<string, Promise<Matrix>>();

  function load(filter: VectorFilter): Promise<Matrix> {
    return (async () => {
      const rows = await opts.em.fork().execute<{ id: string; embedding: number[]; version: number }[]>(EXACT_MATRIX_ROWS, [filter.game, filter.game, filter.model, filter.dimensions]);
      const matrix = new Float32Array(new SharedArrayBuffer(Math.max(1, rows.length * filter.dimensions) * 4));
      rows.forEach((r, i) => matrix.set(r.embedding, i * filter.dimensions));
      return { version: rows[0]?.version ?? -1, ids: rows.map((r) => r.id), rowOf: new Map(rows.map((r, i) => [r.id, i])), matrix };
    })();
  }

  async function matrixFor(filter: VectorFilter, version: number, ids: string[]): Promise<Matrix> {
    const key = `${filter.game}\u0000${filter.model}\u0000${filter.dimensions}`;
    let entry = matrices.get(key);
    let m = entry ? await entry.catch(() => null) : null;
    if (!m || m.version !== version || ids.some((id) => !m!.rowOf.has(id))) {
      // One reload per key at a time; callers that arrive meanwhile share it.
      if (entry === matrices.get(key)) {
        entry = load(filter);
        matrices.set(key, entry);
      } else {
        entry = matrices.get(key)!;
      }
      m = await entry;
    }
    return m;
  }

  return {
    kind: async () => 'exact',
    indexChunks: async () => undefined,
    async search(filter, query, topK) {
      if (query.length !== filter.dimensions || topK <= 0) return [];
      const where = chunkFilter(filter);
      const candidates = await opts.em.fork().execute<{ id: string; version: number }[]>(exactCandidates(where.sql), [filter.game, ...where.params]);
      if (candidates.length === 0) return [];
      const m = await matrixFor(filter, candidates[0].version, candidates.map((c) => c.id));
      const rows = Int32Array.from(candidates.map((c) => m.rowOf.get(c.id) ?? -1).filter((r) => r >= 0));
      const result = await opts.pool.topKCosine({ matrix: m.matrix, dimensions: filter.dimensions, rows, query: Float32Array.from(query), k: topK });
      return result.rows.map((row, i) => ({ chunkId: m.ids[row], score: result.scores[i] }));
    },
  };
}

// --- pgvector

// pgvector's HNSW index takes at most 2,000 dimensions; larger vectors are scanned exactly there too.
const HNSW_MAX_DIMENSIONS = 2000;

function createPgvectorIndex(opts: VectorIndexOptions & { version: string }): VectorIndex {
  // Searches share one table creation per size; `committed` holds the sizes whose table is known to exist.
  const tables = new Map<number, Promise<string>>();
  const committed = new Set<number>();
  const efSearch = opts.efSearch ?? 100;
  // 0.8 added iterative index scans: a selective filter then still fills top-k instead of
  // returning fewer rows than asked for.
  const iterative = compareVersions(opts.version, '0.8.0') >= 0;

  // A table per vector size, since an indexed vector column has one fixed size. Created here and
  // not in a migration because it exists only where the extension does; chunks stored before
  // pgvector was installed are copied over on creation.
  //
  // Created inside `tx`: the foreign key needs a SHARE ROW EXCLUSIVE lock on kb_chunks, which
  // conflicts with the ROW EXCLUSIVE lock an ingest transaction holds once it has written chunks.
  // Created from another connection while the ingest waits for it, it would wait for the ingest
  // forever. Taking that lock first also serialises creators (across nodes too) and keeps
  // uncommitted chunk writes out of the way of the copy below.
  async function ensureTable(tx: Em, dimensions: number): Promise<string> {
    if (!Number.isInteger(dimensions) || dimensions <= 0) throw new Error(`invalid embedding size ${dimensions}`);
    const name = vectorTable(dimensions);
    const exists = async () => (await tx.execute<{ t: string | null }[]>(TABLE_EXISTS, [name]))[0]?.t != null;
    if (await exists()) return name;
    await tx.execute(LOCK_CHUNKS_FOR_VECTOR_TABLE);
    if (await exists()) return name;
    await tx.execute(createVectorTable(name, dimensions));
    if (dimensions <= HNSW_MAX_DIMENSIONS) {
      await tx.execute(createVectorHnswIndex(name));
    }
    await tx.execute(copyChunksIntoVectorTable(name, dimensions));
    return name;
  }

  // For searches, outside any transaction: one creation per size, in its own transaction.
  function tableFor(dimensions: number): Promise<string> {
    let t = tables.get(dimensions);
    if (!t) {
      t = opts.em.fork().transactional((tx) => ensureTable(tx as Em, dimensions));
      t.then(() => committed.add(dimensions), () => tables.delete(dimensions));
      tables.set(dimensions, t);
    }
    return t;
  }

  return {
    kind: async () => 'pgvector',
    async indexChunks(tx, chunks) {
      const byDims = new Map<number, typeof chunks>();
      for (const c of chunks) byDims.set(c.embedding.length, [...(byDims.get(c.embedding.length) ?? []), c]);
      for (const [dimensions, group] of byDims) {
        // Never waits for a search's creation in progress: that one waits for this transaction.
        // Not remembered from here: the table is gone again if this transaction rolls back.
        const table = committed.has(dimensions) ? vectorTable(dimensions) : await ensureTable(tx, dimensions);
        for (const c of group) {
          await tx.execute(upsertChunkVector(table), [c.id, vectorLiteral(c.embedding)]);
        }
      }
    },
    async search(filter, query, topK) {
      if (query.length !== filter.dimensions || topK <= 0) return [];
      const table = await tableFor(filter.dimensions);
      const where = chunkFilter(filter);
      const q = vectorLiteral(query);
      const em = opts.em.fork();
      return em.transactional(async (tx) => {
        // `set local` lasts for this transaction only, so pooled connections keep their defaults.
        await tx.execute(setEfSearch(Math.max(efSearch, topK)));
        if (iterative) await tx.execute(SET_ITERATIVE_SCAN);
        const rows = await tx.execute<{ id: string; distance: number }[]>(nearestChunks(table, where.sql), [q, ...where.params, q, topK * 2]);
        // Cosine distance is 1 − similarity; the id breaks ties the same way the exact path does.
        return rows
          .map((r) => ({ chunkId: r.id, score: 1 - Number(r.distance) }))
          .sort((a, b) => b.score - a.score || (a.chunkId < b.chunkId ? -1 : 1))
          .slice(0, topK);
      });
    },
  };
}

function vectorLiteral(v: number[]): string {
  return `[${v.map((x) => (Number.isFinite(x) ? x : 0)).join(',')}]`;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
