// The cron process: `npm run cron`. Run one or several; each scheduled slot runs once.
import http from 'node:http';
import { loadConfig, ConfigError } from './config.ts';
import { createContext, createServices } from './context.ts';
import { createLogger } from './logger.ts';
import { createCronRunner } from './cronRunner.ts';
import { createNodeRealtime, socketNamespaces } from './node.ts';
import { cronJobs } from '../cron/index.ts';

try {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: `${config.NODE_ID}-cron` });
  const ctx = await createContext(config, { logger });
  // Emits only: no client connects to the cron process, so its namespaces serve no events.
  const realtime = createNodeRealtime(ctx, http.createServer(), socketNamespaces(ctx, () => undefined));
  const services = createServices(ctx, realtime.port);
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
      await realtime.close();
      await ctx.close();
      process.exit(0);
    });
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(err instanceof ConfigError ? 78 : 1);
}
