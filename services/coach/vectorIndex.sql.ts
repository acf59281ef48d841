// The vector index's SQL, kept readable in one place: enabling pgvector, the chunk filter both
// implementations share, the exact path's candidate and matrix reads, and the pgvector path's
// per-size tables and HNSW search.
// Tables: kb_chunks and kb_versions are read (both have MikroORM entities, entities/coach/KbChunk.ts
// and KbVersion.ts). kb_chunk_vectors_<dims> (one per embedding size; chunk_id, embedding vector)
// is created, filled and searched here and has no entity and no migration: it exists only where
// the vector extension does. pg_extension is the Postgres catalog.
// Values are `?` placeholders passed separately. Table names and the vector size cannot be
// parameters (identifiers, a type modifier, SET): they are built from a size the caller has checked
// is a positive integer, and numbers only are interpolated.
import { pgArray } from '../pgArray.ts';
import type { VectorFilter } from './vectorIndex.ts';

// --- enabling pgvector

export const CREATE_VECTOR_EXTENSION = 'create extension if not exists vector';

// The installed pgvector version; no row when it is not installed. No parameters.
export const VECTOR_EXTENSION_VERSION = `select extversion from pg_extension where extname = 'vector'`;

// --- the filter both implementations share

// game AND model AND size, then category and every requested tag when given (alias `c` is kb_chunks).
// The params go, in order, where `sql` is placed.
export function chunkFilter(filter: VectorFilter): { sql: string; params: unknown[] } {
  const clauses = ['c.game = ?', 'c.model = ?', 'c.dimensions = ?'];
  const params: unknown[] = [filter.game, filter.model, filter.dimensions];
  if (filter.category) {
    clauses.push('c.category = ?');
    params.push(filter.category);
  }
  if (filter.tags && filter.tags.length > 0) {
    clauses.push('c.tags @> ?::text[]');
    params.push(pgArray(filter.tags));
  }
  return { sql: clauses.join(' and '), params };
}

// --- exact top-k

// Every vector of a (game, model, size), in id order, with the game's knowledge version.
// Parameters: game, game, model, dimensions.
export const EXACT_MATRIX_ROWS = `
select c.id, c.embedding, coalesce((select version from kb_versions where game = ?), 0) as version
  from kb_chunks c where c.game = ? and c.model = ? and c.dimensions = ? order by c.id`;

// The chunks that pass the filter, with the game's knowledge version.
// Parameters: game, then the filter's params.
export function exactCandidates(filterSql: string): string {
  return `select c.id, coalesce((select version from kb_versions where game = ?), 0) as version from kb_chunks c where ${filterSql}`;
}

// --- pgvector

export function vectorTable(dimensions: number): string {
  return `kb_chunk_vectors_${dimensions}`;
}

// Whether a table exists. Parameters: table name.
export const TABLE_EXISTS = 'select to_regclass(?) as t';

// Taken before creating a vector table; why, in vectorIndex.ts (ensureTable).
export const LOCK_CHUNKS_FOR_VECTOR_TABLE = 'lock table kb_chunks in share row exclusive mode';

export function createVectorTable(table: string, dimensions: number): string {
  return `create table if not exists ${table} (
  chunk_id uuid primary key references kb_chunks(id) on delete cascade deferrable initially deferred,
  embedding vector(${dimensions}) not null)`;
}

export function createVectorHnswIndex(table: string): string {
  return `create index if not exists ${table}_hnsw on ${table} using hnsw (embedding vector_cosine_ops)`;
}

// Chunks stored before the table existed.
export function copyChunksIntoVectorTable(table: string, dimensions: number): string {
  return `insert into ${table} (chunk_id, embedding)
  select id, embedding::vector from kb_chunks where dimensions = ${dimensions} on conflict (chunk_id) do nothing`;
}

// Parameters: chunk id, embedding (a vector literal).
export function upsertChunkVector(table: string): string {
  return `insert into ${table} (chunk_id, embedding) values (?, ?::vector)
  on conflict (chunk_id) do update set embedding = excluded.embedding`;
}

// For one transaction (`set local`): HNSW candidates per query. SET takes no parameters.
export function setEfSearch(candidates: number): string {
  return `set local hnsw.ef_search = ${candidates | 0}`;
}

// pgvector 0.8+: keep scanning the index until the filter has let enough rows through.
export const SET_ITERATIVE_SCAN = `set local hnsw.iterative_scan = strict_order`;

// The nearest chunks by cosine distance that pass the filter.
// Parameters: query vector, the filter's params, query vector, limit.
export function nearestChunks(table: string, filterSql: string): string {
  return `select c.id, v.embedding <=> ?::vector as distance
  from ${table} v join kb_chunks c on c.id = v.chunk_id
 where ${filterSql}
 order by v.embedding <=> ?::vector
 limit ?`;
}
