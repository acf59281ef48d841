// `npm run admin -- grant <email> | revoke <email> | list`: who holds the admin role, changed on the
// server's own composition (the same config, database and invalidation bus as an API node) without
// listening. With REDIS_URL, running nodes apply a change to the account's next request; a single
// node without Redis cannot hear this process, and applies it within its user cache's TTL (30 s).
import { loadConfig, ConfigError, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startHeadless } from './node.ts';
import { AppError } from '../services/errors.ts';
import { createAdminService, type AdminEntry, type AdminService } from '../services/identity/admins.ts';
import { createUserCache } from '../services/identity/userCache.ts';

export const ADMIN_USAGE = 'usage: npm run admin -- grant <email> | revoke <email> | list';

export type AdminCommand = { command: 'grant' | 'revoke'; email: string } | { command: 'list' };
export type AdminOutput = { out: (line: string) => void; err: (line: string) => void };

// Checked before anything is started, so a typo costs no database start.
export function parseAdminArgs(args: string[]): AdminCommand | undefined {
  const [command, email, ...rest] = args.filter((a) => a !== '--');
  if (command === 'list' && email === undefined) return { command };
  if ((command === 'grant' || command === 'revoke') && email && rest.length === 0) return { command, email };
  return undefined;
}

// Exit status: 0 done (or nothing to change), 1 no account with that email, 64 bad usage (EX_USAGE).
export async function runAdminCommand(args: string[], admins: AdminService, io: AdminOutput): Promise<number> {
  const parsed = parseAdminArgs(args);
  if (!parsed) return refuseUsage(io);
  if (parsed.command === 'list') {
    const all = await admins.list();
    for (const a of all) io.out(describe(a));
    if (all.length === 0) io.err('no admins yet: npm run admin -- grant <email>');
    return 0;
  }
  const { command, email } = parsed;
  try {
    const { user, changed } = await admins[command](email);
    if (!changed) io.out(`${email} ${command === 'grant' ? 'is already' : 'is not'} an admin`);
    else io.out(`${command === 'grant' ? 'granted admin to' : 'revoked admin from'} ${describe(user)}`);
    return 0;
  } catch (err) {
    if (err instanceof AppError && err.code === 'not_found') {
      io.err(`no account has the email ${email}`);
      return 1;
    }
    throw err;
  }
}

// The whole command on a headless composition of `config`: what `npm run admin` runs.
export async function adminCli(args: string[], config: Config, io: AdminOutput): Promise<number> {
  if (!parseAdminArgs(args)) return refuseUsage(io);
  // Its own lines are the output; the server's start-up notes (offline drivers, …) would bury them.
  const level = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? config.LOG_LEVEL : 'error';
  const logger = createLogger({ level, pretty: config.LOG_PRETTY, nodeId: 'admin' });
  const { ctx, close } = await startHeadless(config, { logger, acceptsPayments: false });
  try {
    const em = ctx.db.orm.em;
    // A user cache of this process's own, used only to announce the change on the bus that
    // every node's cache listens to.
    const cache = createUserCache({ em, bus: ctx.invalidation, ttlMs: 1, maxEntries: 1 });
    return await runAdminCommand(args, createAdminService({ em, cache, emails: ctx.emails }), io);
  } finally {
    await close();
  }
}

function refuseUsage(io: AdminOutput): number {
  io.err(ADMIN_USAGE);
  return 64; // EX_USAGE
}

function describe(a: AdminEntry): string {
  return `${a.email ?? '(no email)'}  ${a.username}  ${a.id}${a.disabled ? '  (disabled)' : ''}`;
}

if (import.meta.main) {
  let status = 1;
  try {
    status = await adminCli(process.argv.slice(2), loadConfig(), {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String((err as Error)?.stack ?? err)}\n`);
    status = err instanceof ConfigError ? 78 : 1;
  }
  process.exit(status);
}
