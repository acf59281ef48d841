// `npm run migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from './config.ts';
import { openConfiguredDatabase } from './db.ts';
import { createLogger } from './logger.ts';
import { modules } from '../modules/index.ts';

const config = loadConfig();
const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: config.NODE_ID });
const db = await openConfiguredDatabase(config, logger, { poolMax: 2, migrate: true, modules });
await db.close();
logger.info('migrations are up to date');
