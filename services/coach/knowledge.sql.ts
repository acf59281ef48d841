// The knowledge base's SQL, kept readable in one place: the games list, a game's knowledge version,
// the passages behind search hits, and a document's ingest (upsert, chunk replacement, version bump).
// Tables: kb_documents, kb_chunks and kb_versions (read and written); all three have MikroORM
// entities (entities/coach/KbDocument.ts, KbChunk.ts, KbVersion.ts) — none here is entity-less.
// Arrays travel as Postgres array literals (services/pgArray.ts) and are cast here (`?::text[]`, `?::real[]`).

// Every game with knowledge, with its document and chunk counts. No parameters.
export const KB_GAMES = `
select v.game, v.title, v.version,
       (select count(*) from kb_documents d where d.game = v.game) as documents,
       (select count(*) from kb_chunks c where c.game = v.game) as chunks
  from kb_versions v order by v.game`;

// A game's knowledge version; no row when it has none. Parameters: game.
export const KB_VERSION = 'select version from kb_versions where game = ?';

// The chunks (with their document's title and url) behind search hits. Parameters: chunk ids (pgArray).
export const KB_PASSAGES = `
select c.id, c.document_id, d.title, c.text, d.source_url, c.category, c.tags
  from kb_chunks c join kb_documents d on d.id = c.document_id where c.id = any(?::uuid[])`;

// A stored document by its key, with its hash and chunk count. Parameters: game, doc_key.
export const KB_DOCUMENT_BY_KEY =
  'select d.id, d.content_hash, (select count(*) from kb_chunks c where c.document_id = d.id) as chunks from kb_documents d where d.game = ? and d.doc_key = ?';

// The same, row-locked inside the ingest transaction. Parameters: game, doc_key.
export const KB_DOCUMENT_BY_KEY_FOR_UPDATE = `${KB_DOCUMENT_BY_KEY} for update`;

// A new document; no row returned when (game, doc_key) already exists.
// Parameters: id, game, doc_key, category, tags (pgArray), title, source_url, content_hash.
export const KB_INSERT_DOCUMENT = `
insert into kb_documents (id, game, doc_key, category, tags, title, source_url, content_hash)
values (?, ?, ?, ?, ?::text[], ?, ?, ?) on conflict (game, doc_key) do nothing returning id`;

// A changed document. Parameters: category, tags (pgArray), title, source_url, content_hash, id.
export const KB_UPDATE_DOCUMENT =
  'update kb_documents set category = ?, tags = ?::text[], title = ?, source_url = ?, content_hash = ?, updated_at = now() where id = ?';

// A changed document's old chunks. Parameters: document_id.
export const KB_DELETE_DOCUMENT_CHUNKS = 'delete from kb_chunks where document_id = ?';

// One chunk. Parameters: id, document_id, game, category, tags (pgArray), ordinal, text,
// token_count, summarized, embedding (pgArray), dimensions, model.
export const KB_INSERT_CHUNK = `
insert into kb_chunks (id, document_id, game, category, tags, ordinal, text, token_count, summarized, embedding, dimensions, model)
values (?, ?, ?, ?, ?::text[], ?, ?, ?, ?, ?::real[], ?, ?)`;

// Moves a game's version (1 for a new game), keeping its title unless one is given.
// Parameters: game, title for a new game, new title or null.
export const KB_BUMP_VERSION = `
insert into kb_versions (game, title, version) values (?, ?, 1)
on conflict (game) do update set version = kb_versions.version + 1, updated_at = now(), title = coalesce(?, kb_versions.title)
returning version`;
