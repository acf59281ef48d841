// API node entry point: `npm start`.
import { loadConfig, ConfigError } from './config.ts';
import { startApiNode } from './node.ts';
import { seedKnowledgeIfEmpty } from '../services/coach/knowledgeFiles.ts';

try {
  const node = await startApiNode(loadConfig());
  let signals = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      // A second Ctrl-C means "now".
      if (++signals > 1) process.exit(1);
      node.shutdown(signal).then(() => process.exit(0), () => process.exit(1));
    });
  }
  // A fresh installation answers from the shipped coach knowledge; a failure here must not stop the node.
  if (node.ctx.config.COACH_KB_SEED_ON_START) {
    await seedKnowledgeIfEmpty(node.services.coachKnowledge, node.ctx.config.COACH_KB_SEED_DIR, node.ctx.logger)
      .catch((err) => node.ctx.logger.error({ err }, 'seeding the shipped coach knowledge failed'));
  }
  node.ctx.logger.info(`ready: ${node.url}  (docs: ${node.url}/docs)`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
}
