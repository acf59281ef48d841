import { Migration } from '@mikro-orm/migrations';

export class Migration20261122000031_coach_knowledge extends Migration {
  override up(): void {
    // A document is known by (game, doc_key): its URL, else its title. Re-ingesting it compares
    // content_hash, so an unchanged document costs no embedding call and no version bump.
    this.addSql(`create table kb_documents (
      id uuid primary key,
      game text not null,
      doc_key text not null,
      category text,
      tags text[] not null default '{}',
      title text not null,
      source_url text,
      content_hash text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (game, doc_key)
    )`);
    // game, category and tags are copied onto each chunk so that retrieval filters one table.
    // Embeddings are real[] here on every Postgres; with pgvector a vector copy is kept beside it.
    this.addSql(`create table kb_chunks (
      id uuid primary key,
      document_id uuid not null references kb_documents(id) on delete cascade deferrable initially deferred,
      game text not null,
      category text,
      tags text[] not null default '{}',
      ordinal integer not null,
      text text not null,
      token_count integer not null,
      summarized boolean not null default false,
      embedding real[] not null,
      dimensions integer not null check (dimensions > 0),
      model text not null,
      created_at timestamptz not null default now(),
      unique (document_id, ordinal),
      check (cardinality(embedding) = dimensions)
    )`);
    this.addSql(`create index kb_chunks_game_category_index on kb_chunks (game, category)`);
    this.addSql(`create index kb_chunks_tags_index on kb_chunks using gin (tags)`);
    // Bumped by every ingest that changes a game's knowledge: cached answers key on it.
    this.addSql(`create table kb_versions (
      game text primary key,
      title text not null,
      version integer not null default 0,
      updated_at timestamptz not null default now()
    )`);
  }

  override down(): void {
    for (const t of ['kb_chunks', 'kb_documents', 'kb_versions']) this.addSql(`drop table if exists ${t}`);
  }
}
