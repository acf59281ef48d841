// The cron process: `npm run cron`. Run one or several; each scheduled slot runs once.
import { loadConfig, ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { createCronRunner } from './cronRunner.ts';
import { startHeadless } from './node.ts';
import { cronJobs } from '../cron/index.ts';

try {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: `${config.NODE_ID}-cron` });
  const { ctx, services, close } = await startHeadless(config, { logger });
  const runner = createCronRunner({
    orm: ctx.db.orm,
    databaseUrl: ctx.db.url,
    logger,
    metrics: ctx.metrics,
    nodeId: config.NODE_ID,
    timeZone: config.TIME_ZONE,
  });
  const all = cronJobs(services);
  const jobs = config.CRON_ENABLED_JOBS ? all.filter((j) => config.CRON_ENABLED_JOBS!.includes(j.name)) : all;
  runner.start(jobs);
  logger.info({ jobs: jobs.map((j) => `${j.name} (${j.schedule})`) }, 'cron process started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, async () => {
      logger.info({ signal }, 'cron process stopping');
      await runner.stop();
      await close();
      process.exit(0);
    });
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(err instanceof ConfigError ? 78 : 1);
}
