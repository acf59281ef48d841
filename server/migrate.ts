// `npm run migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from './config.ts';
import { openDatabase } from './db.ts';
import { createLogger } from './logger.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: config.NODE_ID });
const db = await openDatabase({
  databaseUrl: config.DATABASE_URL,
  embedded: { dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT },
  poolMax: 2,
  migrateOnStart: true,
  logger,
});
await db.close();
logger.info('migrations are up to date');
