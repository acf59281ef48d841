// API node entry point: `npm start`.
import { loadConfig, ConfigError } from './config.ts';
import { startApiNode } from './node.ts';
import { seedShippedKnowledge } from '../services/coach/knowledgeFiles.ts';
import { createSeedRuns } from '../services/seedRuns.ts';

try {
  const node = await startApiNode(loadConfig());
  // Stopping interrupts the first start's seeding; it resumes at the next start.
  const stopping = new AbortController();
  let signals = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      // A second Ctrl-C means "now".
      if (++signals > 1) process.exit(1);
      stopping.abort();
      node.shutdown(signal).then(() => process.exit(0), () => process.exit(1));
    });
  }
  node.ctx.logger.info(`ready: ${node.url}  (docs: ${node.url}/docs)`);
  // A fresh installation answers from the shipped coach knowledge; a failure here must not stop the node.
  if (node.ctx.config.COACH_KB_SEED_ON_START) {
    await seedShippedKnowledge(node.services.coachKnowledge, node.ctx.config.COACH_KB_SEED_DIR, node.ctx.logger, { seedRuns: createSeedRuns(node.ctx.db.orm.em), signal: stopping.signal })
      .catch((err) => {
        if (stopping.signal.aborted) node.ctx.logger.info('seeding the shipped coach knowledge was interrupted by shutdown; it resumes at the next start');
        else node.ctx.logger.error({ err }, 'seeding the shipped coach knowledge failed');
      });
  }
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
}
