// The first start's seed of the shipped coach knowledge (server/main.ts): it runs once on an empty
// installation, resumes when it was cut short, and leaves an installation with its own knowledge alone.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Logger } from 'pino';
import type { ApiNode } from '../../server/node.ts';
import { createDatabaseIfMissing, dropDatabase } from '../../server/db.ts';
import { seedShippedKnowledge } from '../../services/coach/knowledgeFiles.ts';
import type { KnowledgeService } from '../../services/coach/knowledge.ts';
import { createSeedRuns, type SeedRuns } from '../../services/seedRuns.ts';
import { startNode, coach } from '../helpers.ts';
import { testState } from '../state.ts';

const quiet = { info: () => undefined, warn: () => undefined } as unknown as Logger;

describe('coach knowledge: the first start\'s seed', () => {
  let node: ApiNode;
  let databaseUrl: string;
  let seedRuns: SeedRuns;
  let dir: string;
  const game = `seed${crypto.randomBytes(3).toString('hex')}`;

  before(async function () {
    this.timeout(60_000);
    // A database of its own: "the installation has knowledge" is a property of the whole database.
    const url = new URL(testState.databaseUrl);
    url.pathname = `${url.pathname}_seed`;
    databaseUrl = url.toString();
    await createDatabaseIfMissing(databaseUrl);
    node = await startNode({ DATABASE_URL: databaseUrl, MIGRATE_ON_START: 'true' });
    seedRuns = createSeedRuns(node.ctx.db.orm.em);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-'));
    const docs = ['Wave control', 'Warding', 'Objectives'].map((title, i) => ({ game, title, category: 'basics', content: `${title}: ${'쉬운 설명 '.repeat(20 + i)}` }));
    fs.writeFileSync(path.join(dir, 'docs.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  });

  after(async function () {
    this.timeout(30_000);
    await node.shutdown('test done');
    fs.rmSync(dir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
  });

  const documents = async () => (await coach(node).knowledge.games()).find((g) => g.game === game)?.documents ?? 0;

  it('resumes a seed cut short by shutdown, then never runs again', async () => {
    // Stopped after the first document, as SIGTERM does through the signal.
    const stopping = new AbortController();
    const knowledge: Pick<KnowledgeService, 'games' | 'ingest'> = {
      games: () => coach(node).knowledge.games(),
      ingest: (input, o) => coach(node).knowledge.ingest(input, { ...o, onDocument: () => stopping.abort() }),
    };
    const interrupted = await seedShippedKnowledge(knowledge, dir, quiet, { seedRuns, signal: stopping.signal }).catch((e: Error) => e);
    expect(interrupted).to.be.instanceOf(Error);
    expect(await documents()).to.equal(1);
    expect(await seedRuns.state('coach-knowledge')).to.equal('started');

    // The knowledge base is no longer empty, yet the next start finishes the seed.
    expect(await seedShippedKnowledge(coach(node).knowledge, dir, quiet, { seedRuns })).to.equal(true);
    expect(await documents()).to.equal(3);
    expect(await seedRuns.state('coach-knowledge')).to.equal('completed');

    // Once completed, it is done for good, even if an operator removes what it loaded.
    await node.ctx.db.orm.em.fork().execute('delete from kb_documents where game = ?', [game]);
    expect(await seedShippedKnowledge(coach(node).knowledge, dir, quiet, { seedRuns })).to.equal(false);
    expect(await documents()).to.equal(0);
  });

  it('leaves alone an installation that has knowledge of its own and never seeded', async () => {
    await node.ctx.db.orm.em.fork().execute('delete from seed_runs');
    await coach(node).knowledge.ingest([{ game, title: 'Our own notes', content: '운영자가 올린 문서입니다. '.repeat(10) }]);
    expect(await seedShippedKnowledge(coach(node).knowledge, dir, quiet, { seedRuns })).to.equal(false);
    expect(await documents()).to.equal(1);
    expect(await seedRuns.state('coach-knowledge')).to.equal('never');
  });
});
