// API node entry point: `npm start`.
import { loadConfig, ConfigError } from './config.ts';
import { startApiNode } from './node.ts';
import { ModuleError } from './module.ts';

// Signals closer together than this are one stop request delivered twice (see stop() below); a
// person pressing Ctrl-C again is slower.
const DUPLICATE_SIGNAL_MS = 500;

try {
  const node = await startApiNode(loadConfig());
  // Stopping interrupts the first start's seeding; it resumes at the next start.
  const stopping = new AbortController();
  let stoppedAt: number | undefined;
  const stop = (reason: string) => {
    if (stoppedAt !== undefined) {
      // Under `npm start` one Ctrl-C arrives twice, a few ms apart: from the terminal (it signals
      // the whole foreground process group) and forwarded by npm. That is still one.
      if (Date.now() - stoppedAt < DUPLICATE_SIGNAL_MS) return;
      // A second Ctrl-C means "now".
      process.exit(1);
    }
    stoppedAt = Date.now();
    stopping.abort();
    node.shutdown(reason).then(() => process.exit(0), () => process.exit(1));
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
  // Under `npm start` our parent is npm, which passes SIGTERM and SIGINT on (the script `exec`s
  // node, so no shell sits between to swallow them). An npm that dies without passing anything on
  // (SIGKILL, a crash) would leave this node running as an orphan, holding the port and the
  // embedded Postgres: so while npm started us, its disappearance (we are re-parented) is a stop.
  // Only then: a node started some other way (a container, systemd, nohup) outlives its parent on purpose.
  if (process.env.npm_lifecycle_event) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent && stoppedAt === undefined) stop('parent process exited');
    }, 1000).unref();
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
