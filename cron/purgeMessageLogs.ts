import type { CronJob } from '../server/cronRunner.ts';

// SMS attempt logs are kept 90 days (delivery disputes, provider reconciliation), the offline
// development outbox 7 days; neither needs to grow forever. Deleted in batches so a large backlog
// never holds one long transaction.
const RETENTION = [
  { table: 'sms_logs', days: 90 },
  { table: 'offline_outbox', days: 7 },
] as const;
const BATCH = 5_000;

export const purgeMessageLogs: CronJob = {
  name: 'purge-message-logs',
  schedule: '23 4 * * *',
  description: 'Delete SMS logs older than 90 days and offline outbox entries older than 7 days',
  run: async ({ em, signal }) => {
    const deleted: Record<string, number> = {};
    for (const { table, days } of RETENTION) {
      deleted[table] = 0;
      for (;;) {
        if (signal.aborted) return deleted;
        const rows = await em.execute<{ n: string }[]>(
          `with gone as (delete from ${table} where ctid in (select ctid from ${table} where created_at < now() - interval '${days} days' limit ${BATCH}) returning 1)
           select count(*) as n from gone`,
        );
        deleted[table] += Number(rows[0].n);
        if (Number(rows[0].n) < BATCH) break;
      }
    }
    return deleted;
  },
};
