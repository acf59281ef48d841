// Root hooks: one database per test run, created on the Postgres that DATABASE_URL names or, without
// it, on an embedded Postgres; migrations run once; the database is dropped at the end.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createDatabaseIfMissing, createOrm, dropDatabase, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from '../server/db.ts';
import { createLogger } from '../server/logger.ts';
import { testState } from './state.ts';
import { testModules } from './helpers.ts';

let embedded: EmbeddedDatabase | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    const logger = createLogger({ level: 'warn', pretty: false, nodeId: 'test' });
    let serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) {
      const dir = path.resolve('.data/test-postgres');
      fs.mkdirSync(dir, { recursive: true });
      embedded = await startEmbeddedPostgres({ dir, port: await freePort(), logger });
      serverUrl = embedded.url;
    }
    const runId = `${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
    const url = new URL(serverUrl);
    url.pathname = `/test_run_${runId}`;
    testState.databaseUrl = url.toString();
    testState.runId = runId;
    await createDatabaseIfMissing(testState.databaseUrl);
    const orm = await createOrm({ url: testState.databaseUrl, poolMax: 2, logger, modules: testModules });
    await migrate(orm, logger, testModules);
    await orm.close(true);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    if (testState.databaseUrl) await dropDatabase(testState.databaseUrl);
    await embedded?.stop();
  },
};
