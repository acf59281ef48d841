// The pgvector VectorIndex against a real pgvector: PGlite (WASM Postgres 18 with pgvector 0.8)
// served over the Postgres wire protocol by pglite-socket, so MikroORM and pg connect to it as to
// any server. The same chunks go into a pgvector index and an exact one, and both must answer
// every query the same way as a brute-force reference. Needs no DATABASE_URL or REDIS_URL.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { createOrm, migrate, type Orm } from '../../server/db.ts';
import { createLogger } from '../../server/logger.ts';
import { pgArray } from '../../services/pgArray.ts';
import { inTransaction, type Em } from '../../services/transaction.ts';
import { createVectorIndex, type VectorFilter, type VectorHit, type VectorIndex } from '../../services/coach/vectorIndex.ts';
import { createWorkerPool, type WorkerPool } from '../../workers/pool.ts';
import { testModules } from '../helpers.ts';

// A seeded generator, so a failure reproduces.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type Chunk = { id: string; game: string; category: string | null; tags: string[]; model: string; embedding: number[] };

const MODEL = 'test-embed';
const GAMES = ['lol', 'valorant'];
const CATEGORIES = ['laning', 'macro', null];
const TAGS = ['early', 'late', 'jungle', 'support'];
// pgvector stores float4 and accumulates cosine in float4; the worker scores the same float4
// values in float64.
const SCORE_TOLERANCE = 1e-5;

function unitVector(rnd: () => number, dims: number): number[] {
  // Normal-ish components (sum of uniforms), normalised, then stored as float4 like both paths do.
  const v = Array.from({ length: dims }, () => rnd() + rnd() + rnd() - 1.5);
  const n = Math.hypot(...v) || 1;
  return Array.from(Float32Array.from(v.map((x) => x / n)));
}

function makeChunks(rnd: () => number, count: number, dims: number, model: string): Chunk[] {
  return Array.from({ length: count }, () => {
    const embedding = unitVector(rnd, dims);
    // Some are scaled: both paths must score cosine, not the dot product.
    const scale = rnd() < 0.2 ? 3 : 1;
    return {
      id: crypto.randomUUID(),
      game: GAMES[Math.floor(rnd() * GAMES.length)],
      category: CATEGORIES[Math.floor(rnd() * CATEGORIES.length)],
      tags: TAGS.filter(() => rnd() < 0.4),
      model,
      embedding: Array.from(Float32Array.from(embedding.map((x) => x * scale))),
    };
  });
}

// The reference: the filter as documented (game AND category AND every tag, same model and size),
// cosine in float64 over the float4 values, ties by chunk id.
function bruteForce(chunks: Chunk[], filter: VectorFilter, query: number[], k: number): VectorHit[] {
  const q = Math.hypot(...query);
  return chunks
    .filter((c) => c.game === filter.game && c.model === filter.model && c.embedding.length === filter.dimensions)
    .filter((c) => !filter.category || c.category === filter.category)
    .filter((c) => (filter.tags ?? []).every((t) => c.tags.includes(t)))
    .map((c) => ({ chunkId: c.id, score: c.embedding.reduce((s, x, j) => s + x * query[j], 0) / (Math.hypot(...c.embedding) * q) }))
    .sort((a, b) => b.score - a.score || (a.chunkId < b.chunkId ? -1 : 1))
    .slice(0, k);
}

async function insertChunks(orm: Orm, index: VectorIndex, chunks: Chunk[]): Promise<void> {
  // As the knowledge service ingests: chunk rows, then the index, in one transaction.
  await inTransaction(orm.em.fork(), async (tx) => {
    for (const c of chunks) {
      const documentId = crypto.randomUUID();
      await tx.execute(
        `insert into kb_documents (id, game, doc_key, category, tags, title, content_hash) values (?, ?, ?, ?, ?::text[], ?, ?)`,
        [documentId, c.game, `doc-${c.id}`, c.category, pgArray(c.tags), `doc ${c.id}`, c.id],
      );
      await tx.execute(
        `insert into kb_chunks (id, document_id, game, category, tags, ordinal, text, token_count, embedding, dimensions, model)
         values (?, ?, ?, ?, ?::text[], 0, ?, 1, ?::real[], ?, ?)`,
        [c.id, documentId, c.game, c.category, pgArray(c.tags), `chunk ${c.id}`, pgArray(c.embedding), c.embedding.length, c.model],
      );
    }
    await index.indexChunks(tx, chunks.map((c) => ({ id: c.id, embedding: c.embedding })));
  });
}

describe('coach knowledge: the pgvector VectorIndex against a real pgvector (PGlite)', function () {
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false, nodeId: 'test' });
  const POOL_MAX = 3;
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  let orm: Orm | undefined;
  let workers: WorkerPool | undefined;
  let pgvector: VectorIndex;
  let exact: VectorIndex;

  before(async function () {
    this.timeout(60_000);
    try {
      const [{ PGlite }, { vector }, { PGLiteSocketServer }, { cube }, { earthdistance }] = await Promise.all([
        import('@electric-sql/pglite'),
        // pglite 0.5 ships pgvector as its own package (a peer of pglite-socket), not as pglite/vector.
        import('@electric-sql/pglite-pgvector'),
        import('@electric-sql/pglite-socket'),
        // Every module's migrations run here, and the walk module's "near me" needs these two contribs.
        import('@electric-sql/pglite/contrib/cube'),
        import('@electric-sql/pglite/contrib/earthdistance'),
      ]);
      db = await PGlite.create({ extensions: { vector, cube, earthdistance } });
      // Port 0: the OS picks a free one. Every connection shares PGlite's one backend session;
      // the server keeps a transaction's statements together. The pool, plus migrate()'s lock client.
      server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: POOL_MAX + 2 });
      await server.start();
    } catch (err) {
      logger.warn({ err }, 'PGlite could not start: skipping the pgvector tests');
      await db?.close().catch(() => undefined);
      db = undefined;
      server = undefined;
      this.skip();
    }
    // PGlite's one user and database are both `postgres`; the socket server asks for no password.
    const url = `postgres://postgres@${server!.getServerConn()}/postgres`;
    orm = await createOrm({ url, poolMax: POOL_MAX, logger, modules: testModules });
    await migrate(orm, logger, testModules);
    workers = createWorkerPool({ size: 1 });
    const opts = { em: orm.em, pool: workers, logger };
    // ef_search above the row count: HNSW then visits every vector and is exact.
    pgvector = createVectorIndex({ ...opts, mode: 'pgvector', efSearch: 1000 });
    exact = createVectorIndex({ ...opts, mode: 'exact' });
  });

  after(async function () {
    this.timeout(30_000);
    await workers?.close();
    await orm?.close(true);
    await server?.stop();
    await db?.close();
  });

  const rnd = random(20261122);
  const chunks: Chunk[] = [];

  it('runs on pgvector 0.8 where asked, and on the worker where asked', async () => {
    expect(await pgvector.kind()).to.equal('pgvector');
    expect(await exact.kind()).to.equal('exact');
    const [row] = await orm!.em.fork().execute<{ extversion: string }[]>(`select extversion from pg_extension where extname = 'vector'`);
    expect(row.extversion).to.match(/^0\.([89]|\d\d)\./);
  });

  it('indexes chunks inside the ingest transaction, before any search made its table', async () => {
    // 200 chunks of 8 dimensions, plus chunks of another model and of another size that must never
    // answer an 8-dimension query for MODEL.
    chunks.push(...makeChunks(rnd, 200, 8, MODEL), ...makeChunks(rnd, 30, 8, 'other-model'), ...makeChunks(rnd, 30, 4, MODEL));
    // In batches, some before and some after the vector table exists.
    await insertChunks(orm!, pgvector, chunks.slice(0, 100));
    await insertChunks(orm!, pgvector, chunks.slice(100));
    const [{ n }] = await orm!.em.fork().execute<{ n: string }[]>(`select count(*) as n from kb_chunk_vectors_8`);
    expect(Number(n)).to.equal(230);
    const [{ m }] = await orm!.em.fork().execute<{ m: string }[]>(`select count(*) as m from kb_chunk_vectors_4`);
    expect(Number(m)).to.equal(30);
  });

  // Every query and filter, compared with the exact index and the brute-force reference.
  async function compareAll(queriesPerSize: number): Promise<void> {
    expect(chunks).to.have.length(260);
    const filters: Omit<VectorFilter, 'dimensions'>[] = [];
    for (const game of GAMES) {
      filters.push({ game, model: MODEL });
      filters.push({ game, model: 'other-model' });
      for (const category of CATEGORIES) if (category) filters.push({ game, model: MODEL, category });
      for (const tag of TAGS) filters.push({ game, model: MODEL, tags: [tag] });
      filters.push({ game, model: MODEL, tags: ['early', 'jungle'] });
      filters.push({ game, model: MODEL, category: 'macro', tags: ['late'] });
      filters.push({ game, model: MODEL, category: 'laning', tags: ['early', 'support'] });
      filters.push({ game, model: MODEL, tags: TAGS });
      filters.push({ game, model: MODEL, category: null, tags: [] });
    }
    filters.push({ game: 'no-such-game', model: MODEL });
    let compared = 0;
    let nonEmpty = 0;
    for (const dims of [8, 4]) {
      for (let qi = 0; qi < queriesPerSize; qi++) {
        const query = unitVector(rnd, dims);
        for (const f of filters) {
          const filter: VectorFilter = { ...f, dimensions: dims };
          const label = JSON.stringify(filter);
          const expected = bruteForce(chunks, filter, query, 5);
          const [viaPgvector, viaExact] = await Promise.all([pgvector.search(filter, query, 5), exact.search(filter, query, 5)]);
          expect(viaPgvector.map((h) => h.chunkId), `pgvector ${label}`).to.deep.equal(expected.map((h) => h.chunkId));
          expect(viaExact.map((h) => h.chunkId), `exact ${label}`).to.deep.equal(expected.map((h) => h.chunkId));
          expected.forEach((h, i) => {
            expect(viaPgvector[i].score, `pgvector score ${label}`).to.be.closeTo(h.score, SCORE_TOLERANCE);
            expect(viaExact[i].score, `exact score ${label}`).to.be.closeTo(h.score, SCORE_TOLERANCE);
          });
          compared++;
          if (expected.length > 0) nonEmpty++;
        }
      }
    }
    // The filters are selective but not empty: most comparisons have hits, several fewer than 5.
    expect(nonEmpty).to.be.greaterThan(compared * 0.6);
  }

  const planOf = async (em: Em) => (await em.execute<{ 'QUERY PLAN': string }[]>(
    `explain select c.id from kb_chunk_vectors_8 v join kb_chunks c on c.id = v.chunk_id
      where c.game = 'lol' and c.tags @> '{late}'::text[] order by v.embedding <=> '[1,0,0,0,0,0,0,0]'::vector limit 10`,
  )).map((r) => r['QUERY PLAN']).join('\n');

  it('answers every query and filter like the exact index and a brute-force reference: same top-5, same order, same scores', async () => {
    await compareAll(8);
  });

  it('answers the same through the HNSW index, with ef_search above the row count', async () => {
    // On a table this small the planner sorts the filtered rows itself (exact). Every socket
    // connection shares PGlite's one backend session, so these settings reach the index's own
    // queries and leave the planner only the walk of the HNSW graph in distance order.
    const em = orm!.em.fork();
    await em.execute('set enable_seqscan = off');
    await em.execute('set enable_sort = off');
    try {
      expect(await planOf(em)).to.match(/Index Scan using kb_chunk_vectors_8_hnsw/);
      await compareAll(4);
    } finally {
      await em.execute('reset enable_seqscan');
      await em.execute('reset enable_sort');
    }
  });

  it('forgets a deleted chunk and picks up a replaced embedding', async () => {
    const filter: VectorFilter = { game: 'valorant', model: MODEL, dimensions: 8 };
    const query = unitVector(rnd, 8);
    const [top] = bruteForce(chunks, filter, query, 1);
    await orm!.em.fork().execute('delete from kb_chunks where id = ?', [top.chunkId]);
    chunks.splice(chunks.findIndex((c) => c.id === top.chunkId), 1);
    // A new chunk that equals the query comes first in both.
    const [twin] = makeChunks(rnd, 1, 8, MODEL);
    Object.assign(twin, { game: 'valorant', embedding: query });
    await insertChunks(orm!, pgvector, [twin]);
    chunks.push(twin);
    const expected = bruteForce(chunks, filter, query, 5);
    expect(expected[0].chunkId).to.equal(twin.id);
    for (const index of [pgvector, exact]) {
      const got = await index.search(filter, query, 5);
      expect(got.map((h) => h.chunkId)).to.deep.equal(expected.map((h) => h.chunkId));
      expect(got[0].score).to.be.closeTo(1, SCORE_TOLERANCE);
    }
  });
});
