// Root hooks: one database per test run, created on the Postgres that DATABASE_URL names or, without
// it, on an embedded Postgres; migrations run once; the database is dropped at the end, and with
// REDIS_URL the run's Redis keys are deleted (some, like the coach cache's generation counters,
// have no TTL and would stay forever).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createDatabaseIfMissing, createOrm, dropDatabase, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from '../server/db.ts';
import { createLogger } from '../server/logger.ts';
import { runRedisKeyPatterns, testState } from './state.ts';
import { freePort, testModules } from './helpers.ts';

let embedded: EmbeddedDatabase | undefined;


// SCAN (not KEYS: the Redis may be shared and large) and UNLINK (freed off Redis's main thread).
// Returns how many keys were deleted.
export async function deleteRedisKeys(url: string, patterns: string[]): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true });
  let deleted = 0;
  try {
    await redis.connect();
    for (const match of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        if (keys.length) deleted += await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
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
    if (process.env.REDIS_URL && testState.runId) await deleteRedisKeys(process.env.REDIS_URL, runRedisKeyPatterns(testState.runId));
    if (testState.databaseUrl) await dropDatabase(testState.databaseUrl);
    await embedded?.stop();
  },
};
