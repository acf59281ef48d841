import { spawn } from 'node:child_process';
import { cosineSimilarity as cosine } from '../../workers/vector.ts';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { chunkDocument } from '../../services/coach/chunking.ts';
import type { KnowledgeService } from '../../services/coach/knowledge.ts';
import { countTextTokens } from '../../services/llm/tokens.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser, coach } from '../helpers.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { testState } from '../state.ts';

// A paragraph of roughly `tokens` tokens that reads like prose and varies with `seed`.
function paragraph(tokens: number, seed: string): string {
  const words: string[] = [];
  let i = 0;
  while (countTextTokens(words.join(' ')) < tokens) words.push(`${seed}${i++ % 7 === 0 ? '.' : ''} minion wave tower`);
  return words.join(' ');
}


const uniqueGame = () => `t${crypto.randomBytes(4).toString('hex')}`;

describe('coach knowledge: chunking', () => {
  const chunk = (text: string, o = {}) => chunkDocument(text, { countTokens: countTextTokens, ...o });

  it('packs paragraphs into 300–600-token chunks and starts a section at a heading once a chunk is big enough', () => {
    const doc = [
      '# Laning', paragraph(200, 'alpha'), paragraph(200, 'bravo'), paragraph(150, 'charlie'),
      '## Roams', paragraph(200, 'delta'), paragraph(50, 'echo'),
      '## Vision', paragraph(120, 'foxtrot'),
    ].join('\n\n');
    const chunks = chunk(doc);
    expect(chunks).to.have.length(2);
    for (const c of chunks) expect(c.tokens, c.text.slice(0, 40)).to.be.within(300, 660);
    for (const c of chunks) expect(c.tokens).to.equal(countTextTokens(c.text));
    // A heading starts its chunk; "## Vision" is small and joins the chunk before it rather than stand alone.
    expect(chunks.some((c) => c.text.startsWith('## Roams'))).to.equal(true);
    expect(chunks.every((c) => !c.text.startsWith('## Vision'))).to.equal(true);
    expect(chunks.map((c) => c.text).join('\n')).to.include('foxtrot');
    // Every paragraph made it into some chunk.
    for (const seed of ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']) expect(chunks.some((c) => c.text.includes(seed))).to.equal(true);
  });

  it('repeats the tail of a chunk at the start of the next one inside a section, not across a heading', () => {
    const doc = ['# One', paragraph(250, 'alpha'), paragraph(250, 'bravo'), paragraph(250, 'charlie')].join('\n\n');
    const chunks = chunk(doc, { overlapTokens: 40 });
    expect(chunks.length).to.be.greaterThan(1);
    const second = chunks[1].text;
    // The second chunk begins with sentences from the end of the first.
    const firstWords = second.split(/\s+/).slice(0, 3).join(' ');
    expect(chunks[0].text).to.include(firstWords);
    const withHeading = chunk(['# A', paragraph(350, 'alpha'), '# B', paragraph(350, 'bravo')].join('\n\n'), { overlapTokens: 40 });
    expect(withHeading[1].text.startsWith('# B')).to.equal(true);
  });

  it('keeps a long paragraph whole (so it can be summarised) but splits one beyond the hard limit', () => {
    const big = paragraph(1500, 'giant');
    const chunks = chunk(['# Big', big].join('\n\n'));
    expect(chunks).to.have.length(1);
    expect(chunks[0].tokens).to.be.greaterThan(1200);
    const huge = chunk(paragraph(3000, 'huge'), { hardLimitTokens: 1000 });
    expect(huge.length).to.be.greaterThan(2);
    for (const c of huge) expect(c.tokens).to.be.at.most(1100);
  });

  it('accepts headings glued to their paragraph and CRLF line ends, and returns nothing for blank text', () => {
    const chunks = chunk('# 제목\r\n첫 문단입니다.\r\n\r\n## 소제목\r\n둘째 문단입니다.');
    expect(chunks).to.have.length(1);
    expect(chunks[0].text).to.equal('# 제목\n첫 문단입니다.\n\n## 소제목\n둘째 문단입니다.');
    expect(chunk('  \n\n ')).to.deep.equal([]);
  });
});

describe('coach knowledge: ingest and retrieval against the OpenAI wire format', () => {
  let fake: FakeOpenAi;
  let node: ApiNode;
  let kb: KnowledgeService;
  let user: TestUser;
  let admin: TestUser & { adminToken: string };

  before(async () => {
    fake = await startFakeOpenAi();
    node = await startNode({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.baseUrl, LLM_EMBEDDING_DIMENSIONS: '16', LLM_RETRIES: '0' });
    kb = coach(node).knowledge;
    user = await newUser(node);
    const a = await newUser(node);
    await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [a.id]);
    const login = await request(node, 'POST', '/auth/login', { body: { email: a.email, password: a.password } });
    admin = { ...a, adminToken: login.body.accessToken };
  });
  after(async () => {
    await stopAllNodes();
    await fake.close();
  });

  it('runs the exact index here (no pgvector on this Postgres)', async () => {
    const { createVectorIndex } = await import('../../services/coach/vectorIndex.ts');
    const index = createVectorIndex({ em: node.ctx.db.orm.em, pool: node.ctx.pool, logger: node.ctx.logger, mode: 'auto' });
    expect(await index.kind()).to.equal('exact');
  });

  it('summarises a chunk over 1,200 tokens through the LLM before storing it', async () => {
    const game = uniqueGame();
    fake.setReply('요약: 웨이브를 천천히 쌓은 뒤 대포 미니언과 함께 밀어 넣으세요.');
    const before = fake.requests.filter((r) => r.path === '/v1/chat/completions').length;
    const report = await kb.ingest([{ game, title: 'Long read', content: `# Long\n\n${paragraph(1400, 'longform')}\n\n${paragraph(100, 'short')}` }]);
    expect(report.documents[0]).to.include({ status: 'created', summarizedChunks: 1 });
    const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions').slice(before);
    expect(chats).to.have.length(1);
    expect(chats[0].headers.authorization).to.equal(`Bearer ${fake.apiKey}`);
    expect(chats[0].body.messages[1].content).to.include('longform');
    const rows = await node.ctx.db.orm.em.fork().execute<{ text: string; summarized: boolean; token_count: number; dimensions: number; model: string }[]>(
      'select text, summarized, token_count, dimensions, model from kb_chunks where game = ? order by ordinal', [game]);
    expect(rows[0]).to.include({ summarized: true, text: '요약: 웨이브를 천천히 쌓은 뒤 대포 미니언과 함께 밀어 넣으세요.', dimensions: 16 });
    expect(rows[0].token_count).to.equal(countTextTokens(rows[0].text));
    expect(rows.slice(1).every((r) => !r.summarized)).to.equal(true);
    // The embeddings request carried the (summarised) chunk text, titled.
    const embeds = fake.requests.filter((r) => r.path === '/v1/embeddings');
    expect(embeds.at(-1)!.body.input[0]).to.equal(`Long read\n${rows[0].text}`);
  });

  it('filters by game, category and tags together, and returns the top 5 by cosine in order', async () => {
    const game = uniqueGame();
    const other = uniqueGame();
    const docs = [];
    for (let i = 0; i < 9; i++) docs.push({ game, category: 'laning', tags: ['wave', 'early'], title: `laning ${i}`, content: `wave control note ${i} ${'x'.repeat(i * 7)}` });
    docs.push({ game, category: 'laning', tags: ['wave'], title: 'only wave', content: 'wave control without the early tag' });
    docs.push({ game, category: 'macro', tags: ['wave', 'early'], title: 'macro one', content: 'wave control in the macro category' });
    docs.push({ game: other, category: 'laning', tags: ['wave', 'early'], title: 'other game', content: 'wave control in another game' });
    await kb.ingest(docs);

    const query = 'how do I control the wave early?';
    const res = await kb.retrieve({ game, category: 'laning', tags: ['early', 'wave'], query });
    expect(res.passages).to.have.length(5);
    expect(res.queryEmbedding).to.deep.equal(fake.embeddingOf(query, 16));
    for (const p of res.passages) {
      expect(p.category).to.equal('laning');
      expect(p.tags).to.include.members(['wave', 'early']);
      expect(p.title).to.match(/^laning \d$/);
    }
    // The reference: cosine over every matching document's embedded text, best first.
    const q = fake.embeddingOf(query, 16);
    const expected = docs.slice(0, 9)
      .map((d) => ({ title: d.title, score: cosine(q, Array.from(Float32Array.from(fake.embeddingOf(`${d.title}\n${d.content.trim()}`, 16)))) }))
      .sort((a, b) => b.score - a.score).slice(0, 5);
    expect(res.passages.map((p) => p.title)).to.deep.equal(expected.map((e) => e.title));
    res.passages.forEach((p, i) => expect(p.score).to.be.closeTo(expected[i].score, 1e-5));
    expect(res.kbVersion).to.equal(await kb.version(game));

    // One tag alone widens to "only wave"; a category alone to everything "laning"; nothing matches a missing tag.
    const wave = await kb.retrieve({ game, tags: ['wave'], category: 'laning', query, topK: 20 });
    expect(wave.passages.map((p) => p.title)).to.include('only wave').and.not.include('macro one');
    const macro = await kb.retrieve({ game, category: 'macro', query });
    expect(macro.passages.map((p) => p.title)).to.deep.equal(['macro one']);
    expect((await kb.retrieve({ game, tags: ['wave', 'late'], query })).passages).to.deep.equal([]);
    expect((await kb.retrieve({ game: uniqueGame(), query })).passages).to.deep.equal([]);
    const all = await kb.retrieve({ game, query, topK: 50 });
    expect(all.passages).to.have.length(11);
    expect(all.passages.some((p) => p.title === 'other game')).to.equal(false);
  });

  it('re-ingests an unchanged document without any LLM call or version bump, and replaces a changed one', async () => {
    const game = uniqueGame();
    const docs = [
      { game, category: 'macro', tags: ['dragon'], title: 'Dragons', content: '# Dragons\n\nTake dragon after a lane push.' },
      { game, category: 'macro', tags: ['baron'], title: 'Baron', content: '# Baron\n\nBaron needs vision first.', url: 'https://example.com/baron' },
    ];
    const first = await kb.ingest(docs);
    expect(first.documents.map((d) => d.status)).to.deep.equal(['created', 'created']);
    const v1 = await kb.version(game);
    expect(v1).to.equal(2);
    const requests = fake.requests.length;
    const again = await kb.ingest(docs);
    expect(again.documents.map((d) => d.status)).to.deep.equal(['unchanged', 'unchanged']);
    expect(again.versions).to.deep.equal({});
    expect(fake.requests.length).to.equal(requests);
    expect(await kb.version(game)).to.equal(v1);

    const em = node.ctx.db.orm.em.fork();
    const [oldChunk] = await em.execute<{ id: string }[]>('select id from kb_chunks where document_id = ?', [first.documents[1].documentId]);
    const changed = await kb.ingest([{ ...docs[1], content: '# Baron\n\nBaron needs vision and a pushed wave.' }]);
    expect(changed.documents[0]).to.include({ status: 'updated', documentId: first.documents[1].documentId });
    expect(changed.versions).to.deep.equal({ [game]: v1 + 1 });
    expect(await kb.version(game)).to.equal(v1 + 1);
    const chunks = await em.execute<{ id: string; text: string }[]>('select id, text from kb_chunks where document_id = ?', [first.documents[1].documentId]);
    expect(chunks).to.have.length(1);
    expect(chunks[0].id).to.not.equal(oldChunk.id);
    expect(chunks[0].text).to.include('pushed wave');
    const [{ n }] = await em.execute<{ n: string }[]>('select count(*) as n from kb_documents where game = ?', [game]);
    expect(Number(n)).to.equal(2);

    // Racing ingests of one new document store it once.
    const racer = { game, title: 'Race', content: 'Only one copy of me.' };
    const raced = await Promise.all([kb.ingest([racer]), kb.ingest([racer])]);
    expect(raced.map((r) => r.documents[0].status).sort()).to.deep.equal(['created', 'unchanged']);
    const [{ c }] = await em.execute<{ c: string }[]>(`select count(*) as c from kb_chunks c join kb_documents d on d.id = c.document_id where d.game = ? and d.title = 'Race'`, [game]);
    expect(Number(c)).to.equal(1);
  });

  it('POST /admin/coach/ingest: 401 without a token, 403 for users, 400 naming each bad field, 200 for admins', async () => {
    const game = uniqueGame();
    const body = { documents: [{ game, category: 'roles', tags: ['Jungle'], title: 'Jungle', content: 'Clear, gank, take objectives.' }] };
    expect((await request(node, 'POST', '/admin/coach/ingest', { body })).status).to.equal(401);
    const forbidden = await request(node, 'POST', '/admin/coach/ingest', { token: user.accessToken, body });
    expect(forbidden.status).to.equal(403);

    const bad = await request(node, 'POST', '/admin/coach/ingest', {
      token: admin.adminToken,
      body: { documents: [{ game: 'Bad Game!', title: '', content: 'x', tags: ['ok', '!!'], url: 'ftp://x' }, { game, title: 't' }] },
    });
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const fields = bad.body.errors.map((e: { field: string }) => e.field);
    expect(fields).to.include.members(['documents.0.game', 'documents.0.title', 'documents.0.tags.1', 'documents.0.url', 'documents.1.content']);
    const empty = await request(node, 'POST', '/admin/coach/ingest', { token: admin.adminToken, body: { documents: [] } });
    expect(empty.status).to.equal(400);
    expect(empty.body.errors[0].field).to.equal('documents');
    const tooMany = await request(node, 'POST', '/admin/coach/ingest', { token: admin.adminToken, body: { documents: Array.from({ length: 51 }, () => body.documents[0]) } });
    expect(tooMany.status).to.equal(400);
    const tooLong = await request(node, 'POST', '/admin/coach/ingest', { token: admin.adminToken, body: { documents: [{ ...body.documents[0], content: 'x'.repeat(100_001) }] } });
    expect(tooLong.status).to.equal(400);
    expect(tooLong.body.errors[0].field).to.equal('documents.0.content');

    const ok = await request(node, 'POST', '/admin/coach/ingest', { token: admin.adminToken, body });
    expect(ok.status).to.equal(200);
    expect(ok.body.documents[0]).to.include({ game, status: 'created', chunks: 1 });
    expect(ok.body.versions).to.deep.equal({ [game]: 1 });
    const [row] = await node.ctx.db.orm.em.fork().execute<{ tags: string[] }[]>('select tags from kb_documents where game = ?', [game]);
    expect(row.tags).to.deep.equal(['jungle']);
  });

  it('GET /api/coach/games lists games with knowledge, with counts and versions, to signed-in users', async () => {
    const game = uniqueGame();
    await kb.ingest([
      { game, gameTitle: '테스트 게임', title: 'A', content: 'first' },
      { game, title: 'B', content: 'second' },
    ]);
    expect((await request(node, 'GET', '/api/coach/games')).status).to.equal(401);
    const res = await request(node, 'GET', '/api/coach/games', { token: user.accessToken });
    expect(res.status).to.equal(200);
    const entry = res.body.games.find((g: { game: string }) => g.game === game);
    expect(entry).to.deep.equal({ game, title: '테스트 게임', documents: 2, chunks: 2, version: 2 });
  });
});

describe('coach knowledge: npm run ingest', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coach-ingest-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function runIngest(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['server/command.ts', 'coach', 'ingest', ...args], {
        env: { ...process.env, DATABASE_URL: testState.databaseUrl, LLM_OFFLINE: 'true', MIGRATE_ON_START: 'false', LOG_LEVEL: 'warn', NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('ingests a .jsonl and a .md file with plain progress lines, then finds nothing new the second time', async function () {
    this.timeout(60_000);
    const game = uniqueGame();
    const jsonl = path.join(dir, 'docs.jsonl');
    fs.writeFileSync(jsonl, [
      JSON.stringify({ game, category: 'economy', tags: ['eco'], title: '에코 라운드', content: '# 에코\n\n돈을 아끼는 라운드입니다.' }),
      '',
      JSON.stringify({ game, category: 'economy', tags: ['eco', 'bonus'], title: '보너스 라운드', content: '이긴 다음 라운드에 값싼 무기를 유지합니다.' }),
    ].join('\n'));
    fs.writeFileSync(path.join(dir, 'note.md'), `---\ngame: ${game}\ncategory: aim\ntags: [crosshair, basics]\n---\n# 크로스헤어 위치\n\n머리 높이에 둡니다.\n`);
    const first = await runIngest([dir]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stderr).to.match(/\[1\/3\] created .*docs\.jsonl:1 에코 라운드/);
    expect(first.stderr).to.match(/docs\.jsonl:3 보너스 라운드/);
    expect(first.stderr).to.match(/note\.md:1 크로스헤어 위치/);
    expect(first.stderr).to.include('created 3, updated 0, unchanged 0, failed 0');
    const second = await runIngest([jsonl]);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stderr).to.include('created 0, updated 0, unchanged 2, failed 0');
  });

  it('exits non-zero naming the file and line of every bad document, ingesting nothing', async function () {
    this.timeout(60_000);
    const game = uniqueGame();
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, [
      JSON.stringify({ game, title: 'fine', content: 'ok' }),
      '{"game": "x", "title": ',
      JSON.stringify({ game, title: 'no content' }),
    ].join('\n'));
    const res = await runIngest([bad]);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include(`${bad}:2: not valid JSON`);
    expect(res.stderr).to.include(`${bad}:3: content:`);
    expect(res.stderr).to.include('nothing was ingested');
    const missing = await runIngest([path.join(dir, 'nope.jsonl')]);
    expect(missing.code).to.not.equal(0);
    expect(missing.stderr).to.include('nope.jsonl');
  });
});
