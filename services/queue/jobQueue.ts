// A durable job queue in Postgres, on pg-boss (v12): jobs survive restarts, a job left active by a
// dead process is run again, and a job is never run by two workers at once.
//
// How pg-boss keeps those promises, and what that asks of a handler:
// - One worker at a time. A worker claims a job with `SELECT … FOR UPDATE SKIP LOCKED` and moves it
//   to `active` in the same statement, so two workers (here or on another node) never fetch the same
//   job; it leaves `active` only by completing, failing, or expiring.
// - A dead process. A job keeps `started_on` and `expire_seconds` (the queue's `expireInSeconds`).
//   Every started instance runs pg-boss's supervisor (claimed per queue through a monitor timestamp,
//   so one node sweeps a queue per pass); it moves active jobs past `started_on + expire_seconds` to
//   `retry` while `retry_count < retry_limit`, else to `failed`. A worker then fetches it like any
//   other job. So the job is picked up again after expireInSeconds plus at most one supervise pass,
//   and only if `retryLimit >= 1`: expiry spends a retry, which is why retryLimit defaults to 3 here.
// - A live but slow handler. At expireInSeconds the worker itself fails the job (→ retry) and aborts
//   `ctx.signal`; it does not kill the handler, and another worker may now fetch the retry. A handler
//   must stop on `ctx.signal`, its expireInSeconds must exceed its longest honest run, and its
//   effects must be idempotent per job id (the retry after a crash re-runs work the dead process may
//   have half done).
// - One job per key. `singletonKey` dedupes only on a queue whose policy has a unique index for it:
//   `exclusive` (one created/retry/active job per key: the usual "one run per thing"), `stately` (one
//   per state), `singleton` (one active; more may wait), `short` (one waiting). On a `standard` queue
//   a key dedupes nothing. A deduped send resolves to null.
// - Several nodes. `start()` installs or migrates the schema under pg-boss's advisory lock;
//   `createQueue` is locked and `ON CONFLICT DO NOTHING`; every node may supervise and work.
// - Shutdown. `stop()` stops fetching, waits for running handlers up to `timeoutMs`, then fails what
//   is still running (→ retry, spending one) so another node takes it at once instead of at expiry.
import { PgBoss, type Job, type QueuePolicy } from 'pg-boss';
import type { Logger } from 'pino';

export type JobPolicy = 'standard' | 'singleton' | 'stately' | 'exclusive' | 'short';

export type JobContext = { id: string; signal: AbortSignal; retryCount: number };
export type JobHandler<T> = (data: T, ctx: JobContext) => Promise<void>;

export type JobDefinition = {
  // Jobs this node runs at once for this queue (pg-boss localConcurrency). Default 1.
  concurrency?: number;
  // Retries after the first attempt; an expiry (a dead or overrunning worker) spends one. Default 3.
  retryLimit?: number;
  retryDelaySeconds?: number;
  // How long an attempt may stay active before it counts as lost. Required: there is no good default.
  expireInSeconds: number;
  policy?: JobPolicy;
};

export type SendOptions = { singletonKey?: string; startAfterSeconds?: number };

export type JobQueue = {
  start(): Promise<void>;
  stop(opts?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
  // Creates the queue (idempotent; its retry and expiry options are brought up to date) and, on a
  // node that works, starts working it. Before start() it is recorded and applied by start().
  define<T>(name: string, handler: JobHandler<T>, opts: JobDefinition): Promise<void>;
  // The queue must have been defined (on any node, at any time: queues live in the database).
  send<T>(name: string, data: T, opts?: SendOptions): Promise<string | null>;
};

export type JobQueueOptions = {
  connectionString: string;
  schema?: string;
  logger: Logger;
  // false: send only (a command line tool); no workers, no supervisor. Default true.
  work?: boolean;
  poolMax?: number;
  // pg-boss timings; the defaults (2 s polling, 60 s supervision) suit production, tests shorten them.
  pollingIntervalSeconds?: number;
  superviseIntervalSeconds?: number;
};

type Definition = { name: string; handler: JobHandler<unknown>; opts: JobDefinition };

export function createJobQueue(options: JobQueueOptions): JobQueue {
  const { connectionString, schema = 'pgboss', logger, work = true, poolMax = 5 } = options;
  const log = logger.child({ component: 'jobQueue' });
  const boss = new PgBoss(defined({
    connectionString,
    schema,
    max: poolMax,
    application_name: 'pgboss',
    supervise: work,
    superviseIntervalSeconds: options.superviseIntervalSeconds,
    monitorIntervalSeconds: options.superviseIntervalSeconds,
    // Recurring jobs belong to the cron runner (server/cronRunner.ts), not here.
    schedule: false,
  }));
  // An `error` event with no listener would throw out of pg-boss's timers and end the process.
  boss.on('error', (err) => log.error({ err }, 'job queue error'));
  boss.on('warning', (warning) => log.warn({ warning }, 'job queue warning'));

  const pending: Definition[] = [];
  let started = false;

  async function apply(def: Definition): Promise<void> {
    const { name, handler, opts } = def;
    const queueOptions = {
      retryLimit: opts.retryLimit ?? 3,
      retryDelay: opts.retryDelaySeconds ?? 0,
      expireInSeconds: opts.expireInSeconds,
    };
    const policy: QueuePolicy = opts.policy ?? 'standard';
    await boss.createQueue(name, { ...queueOptions, policy });
    const existing = await boss.getQueue(name);
    if (existing && existing.policy !== policy) {
      throw new Error(`queue ${name} exists with policy ${existing.policy}, not ${policy}; a policy cannot change in place`);
    }
    // createQueue leaves an existing queue alone, so a changed retry or expiry would never land.
    await boss.updateQueue(name, queueOptions);
    if (!work) return;
    await boss.work<unknown>(name, defined({ batchSize: 1, localConcurrency: opts.concurrency ?? 1, pollingIntervalSeconds: options.pollingIntervalSeconds }), async (jobs: Job<unknown>[]) => {
      for (const job of jobs) {
        try {
          await handler(job.data, { id: job.id, signal: job.signal, retryCount: job.retryCount });
        } catch (err) {
          log.warn({ err, queue: name, jobId: job.id, retryCount: job.retryCount }, 'job failed');
          throw err;
        }
      }
    });
  }

  return {
    async start() {
      if (started) return;
      await boss.start();
      started = true;
      for (const def of pending.splice(0)) await apply(def);
      log.info({ schema, work }, 'job queue started');
    },
    async stop(opts = {}) {
      if (!started) return;
      started = false;
      await boss.stop({ graceful: opts.graceful ?? true, timeout: opts.timeoutMs ?? 10_000, close: true });
    },
    async define<T>(name: string, handler: JobHandler<T>, opts: JobDefinition) {
      const def: Definition = { name, handler: handler as JobHandler<unknown>, opts };
      if (started) await apply(def);
      else pending.push(def);
    },
    async send<T>(name: string, data: T, opts: SendOptions = {}) {
      return boss.send(name, data as object, defined({ singletonKey: opts.singletonKey, startAfter: opts.startAfterSeconds }));
    },
  };
}

// pg-boss validates an option whenever its key is present (`'x' in options`), so an undefined value
// fails its checks: absent options are left out instead.
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
