// The cron process: `npm run cron`. Run one or several; each scheduled slot runs once.
import { loadConfig, ConfigError } from './config.ts';
import { openConfiguredDatabase } from './db.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createCronRunner } from './cronRunner.ts';
import { cronJobs } from '../cron/index.ts';

try {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: `${config.NODE_ID}-cron` });
  const db = await openConfiguredDatabase(config, logger, { poolMax: 4 });
  const runner = createCronRunner({
    orm: db.orm,
    databaseUrl: db.url,
    logger,
    metrics: createMetrics({ nodeId: config.NODE_ID }),
    nodeId: config.NODE_ID,
    timeZone: config.TIME_ZONE,
  });
  const jobs = config.CRON_ENABLED_JOBS ? cronJobs.filter((j) => config.CRON_ENABLED_JOBS!.includes(j.name)) : cronJobs;
  runner.start(jobs);
  logger.info({ jobs: jobs.map((j) => `${j.name} (${j.schedule})`) }, 'cron process started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, async () => {
      logger.info({ signal }, 'cron process stopping');
      await runner.stop();
      await db.close();
      process.exit(0);
    });
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(err instanceof ConfigError ? 78 : 1);
}
