// Runs cron jobs so that several cron processes run each scheduled slot once:
// - a Postgres advisory lock per job keeps two runs of one job from overlapping anywhere;
// - a unique (job, slot) row means a runner that fires late, after the first has finished,
//   finds the slot taken and skips it.
// Every run is recorded in cron_runs with its outcome.
import pg from 'pg';
import nodeCron, { type ScheduledTask } from 'node-cron';
import type { Orm } from './db.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Em } from '../services/transaction.ts';

export type CronJob = {
  name: string;
  schedule: string;
  description: string;
  run: (ctx: { em: Em; logger: Logger; signal: AbortSignal }) => Promise<Record<string, unknown> | void>;
};

export type RunOutcome = 'succeeded' | 'failed' | 'skipped_locked' | 'skipped_slot_taken';

export type CronRunner = {
  runOnce: (job: CronJob, slot: Date) => Promise<RunOutcome>;
  start: (jobs: CronJob[]) => void;
  stop: () => Promise<void>;
};

export function createCronRunner(deps: { orm: Orm; databaseUrl: string; logger: Logger; metrics: Metrics; nodeId: string; timeZone: string }): CronRunner {
  // Session advisory locks belong to a connection, so one dedicated connection holds them all;
  // if this process dies, Postgres releases its locks with the connection.
  let lockClient: pg.Client | undefined;
  const running = new Set<string>();
  const tasks: ScheduledTask[] = [];
  const abort = new AbortController();

  async function locks(): Promise<pg.Client> {
    if (lockClient) return lockClient;
    const client = new pg.Client({ connectionString: deps.databaseUrl });
    client.on('error', (err) => {
      deps.logger.error({ err }, 'cron lock connection lost');
      if (lockClient === client) lockClient = undefined;
    });
    await client.connect();
    return (lockClient = client);
  }

  async function runOnce(job: CronJob, slot: Date): Promise<RunOutcome> {
    // Advisory locks are re-entrant within one session, so overlap inside this process is checked here.
    if (running.has(job.name)) return record(job, 'skipped_locked');
    running.add(job.name);
    const client = await locks();
    try {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [`cron:${job.name}`]);
      if (!rows[0].locked) return record(job, 'skipped_locked');
      try {
        return await runLocked(job, slot);
      } finally {
        await client.query('select pg_advisory_unlock(hashtext($1))', [`cron:${job.name}`]).catch(() => undefined);
      }
    } finally {
      running.delete(job.name);
    }
  }

  async function runLocked(job: CronJob, slot: Date): Promise<RunOutcome> {
    const em = deps.orm.em.fork() as Em;
    const claimed = await em.execute<{ id: string }[]>(
      `insert into cron_runs (job_name, slot, node, status, started_at) values (?, ?, ?, 'running', now())
       on conflict (job_name, slot) do nothing returning id`,
      [job.name, slot, deps.nodeId],
    );
    if (claimed.length === 0) return record(job, 'skipped_slot_taken');
    const runId = claimed[0].id;
    const log = deps.logger.child({ job: job.name, runId });
    try {
      const result = await job.run({ em: deps.orm.em.fork() as Em, logger: log, signal: abort.signal });
      await em.execute(`update cron_runs set status = 'succeeded', finished_at = now(), result = ? where id = ?`, [JSON.stringify(result ?? {}), runId]);
      log.info({ result }, 'cron job succeeded');
      return record(job, 'succeeded');
    } catch (err) {
      await em.execute(`update cron_runs set status = 'failed', finished_at = now(), error = ? where id = ?`, [String((err as Error)?.stack ?? err).slice(0, 4000), runId]);
      log.error({ err }, 'cron job failed');
      return record(job, 'failed');
    }
  }

  function record(job: CronJob, outcome: RunOutcome): RunOutcome {
    deps.metrics.cronRuns.inc({ job: job.name, outcome });
    if (outcome.startsWith('skipped')) deps.logger.debug({ job: job.name, outcome }, 'cron job skipped');
    return outcome;
  }

  function start(jobs: CronJob[]): void {
    for (const job of jobs) {
      if (!nodeCron.validate(job.schedule)) throw new Error(`cron job ${job.name}: invalid schedule "${job.schedule}"`);
      tasks.push(
        nodeCron.schedule(job.schedule, (ctx) => {
          // The slot is the scheduled instant, the same in every process whatever its clock skew.
          const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000);
          runOnce(job, slot).catch((err) => deps.logger.error({ err, job: job.name }, 'cron runner error'));
        }, { name: job.name, timezone: deps.timeZone }),
      );
    }
  }

  async function stop(): Promise<void> {
    for (const t of tasks) await t.stop();
    abort.abort();
    // Let running jobs notice the abort and record their outcome.
    const deadline = Date.now() + 10_000;
    while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await lockClient?.end().catch(() => undefined);
    lockClient = undefined;
  }

  return { runOnce, start, stop };
}
