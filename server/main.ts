// API node entry point: `npm start`.
import { loadConfig, ConfigError } from './config.ts';
import { startApiNode } from './node.ts';

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
  node.ctx.logger.info(`ready: ${node.url}  (docs: ${node.url}/docs)`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err);
  process.exit(1);
}
