// API node entry point: `npm start`.
import { loadConfig, ConfigError } from './config.ts';
import { startApiNode } from './node.ts';
import { ModuleError } from './module.ts';

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
  // Each module's start-up work (e.g. loading shipped data on a fresh install); a failure is logged and the node keeps serving.
  for (const m of node.services.modules) {
    if (!m.def.onStarted) continue;
    await m.def.onStarted(m.services, { signal: stopping.signal, logger: m.platform.logger }).catch((err: unknown) => {
      if (stopping.signal.aborted) m.platform.logger.info('start-up work was interrupted by shutdown; it resumes at the next start');
      else m.platform.logger.error({ err }, 'start-up work failed');
    });
  }
} catch (err) {
  if (err instanceof ConfigError || err instanceof ModuleError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
}
