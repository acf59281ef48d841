// `npm run module -- <module> <command> [args…]`: a module's command line entry point (a
// knowledge import, say), run on the same composition as an API node — the same config, database,
// drivers and module services — without listening. Exits with the command's status.
import { loadConfig, ConfigError } from './config.ts';
import { createLogger } from './logger.ts';
import { startHeadless } from './node.ts';
import { modules } from '../modules/index.ts';

const [moduleName, commandName, ...args] = process.argv.slice(2).filter((a) => a !== '--');
const def = modules.find((m) => m.name === moduleName);
const command = def?.commands?.[commandName ?? ''];
if (!def || !command) {
  const known = modules.flatMap((m) => Object.entries(m.commands ?? {}).map(([name, c]) => `  ${m.name} ${name}  ${c.summary}`));
  process.stderr.write(`usage: npm run module -- <module> <command> [args…]\n${known.join('\n') || '  (no module has commands)'}\n`);
  process.exit(64); // EX_USAGE
}

let status = 1;
try {
  // Only the command's module is built; logs would tear a progress bar, so info is quietened.
  const config = loadConfig({ ...process.env, MODULES: def.name });
  const logger = createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, pretty: config.LOG_PRETTY, nodeId: `${def.name}-${commandName}` });
  const { services, close } = await startHeadless(config, { logger, acceptsPayments: false });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  try {
    status = await command.run(services.modules[0].services, args, { logger, signal: abort.signal });
  } finally {
    await close();
  }
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error)?.stack ?? err)}\n`);
  status = err instanceof ConfigError ? 78 : 1;
}
process.exit(status);
