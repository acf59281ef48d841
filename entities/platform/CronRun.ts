import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const CRON_RUN_STATUSES = ['running', 'succeeded', 'failed'] as const;

// One row per scheduled slot of a job: (jobName, slot) is unique, so a second cron process that
// fires for the same slot cannot run it again even after the first has finished.
export const CronRun = defineEntity({
  name: 'CronRun',
  tableName: 'cron_runs',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    jobName: p.string(),
    slot: p.datetime(),
    node: p.string(),
    status: p.enum([...CRON_RUN_STATUSES]),
    startedAt: p.datetime(),
    finishedAt: p.datetime().nullable(),
    error: p.text().nullable(),
    result: p.json<Record<string, unknown>>().nullable(),
  },
  uniques: [{ properties: ['jobName', 'slot'] }],
});
export type CronRun = InferEntity<typeof CronRun>;
