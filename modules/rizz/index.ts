// "Find My Rizz" (seed 002): a paid photo job — payment, phone, selfie — turned into three portraits
// and a report on the durable queue, sent as an SMS link behind the phone number, and deleted with a
// receipt 24 hours after it began.
import { rizzMigrations } from '../../entities/migrations/rizz/index.ts';
import { rizzJobRoutes } from '../../routes/rizz/jobs.ts';
import { defineModule, type ModulePlatform } from '../../server/module.ts';
import { Counter, Histogram } from 'prom-client';
import { createOfflineImages } from '../../integrations/images/offline.ts';
import { createReplicateClient } from '../../integrations/images/replicate.ts';
import { createPipeline } from '../../services/rizz/pipeline.ts';
import { createDeletionService } from '../../services/rizz/deletion.ts';
import { createResultService } from '../../services/rizz/results.ts';
import { createJobService, jobDto, REPORT_PRODUCT } from '../../services/rizz/jobs.ts';
import { RIZZ_KNOWLEDGE_BASE } from '../../services/rizz/knowledgeBase.ts';
import { normalizePhone } from '../../services/rizz/phone.ts';
import type { Em } from '../../services/transaction.ts';
import { checkRizzConfig, rizzConfigSchema, type RizzConfig } from './config.ts';

const rizzServerEvents = {
  'job.updated': { summary: 'The job moved (paid, phone registered, photo taken, completed or failed): its state as GET /jobs/:id gives it', schema: jobDto },
};
const jobRoom = (jobId: string) => `job:${jobId}`;
const GENERATE_QUEUE = 'rizz-generate';
const GENERATE_RETRIES = 3;
// Every attempt the queue makes, each found expired within a supervise pass, with room to spare.
const stalledAfterSeconds = (config: RizzConfig, superviseSeconds: number) => (GENERATE_RETRIES + 1) * (config.RIZZ_GENERATION_EXPIRE_SECONDS + superviseSeconds) + 300;

export const rizzModule = defineModule({
  name: 'rizz',
  summary: 'Find My Rizz: a paid photo job whose AI portraits and report are deleted after 24 hours',
  config: rizzConfigSchema,
  checkConfig: checkRizzConfig,
  migrations: rizzMigrations,
  products: [{ id: REPORT_PRODUCT, name: '나의 리즈 리포트', amount: 9900, grants: { reports: 1 }, sortOrder: 0 }],
  seed: seedKnowledgeBase,
  createServices: (platform, config) => createRizzServices(platform, config),
  routes: (api, rizz) => rizzJobRoutes(api, { jobs: rizz.jobs, deletion: rizz.deletion, results: rizz.results }),
  serverEvents: rizzServerEvents,
  // A job's page connects to /rizz with auth { jobId, token } and hears every move of its job.
  guestSocket: {
    authenticate: async (rizz, auth) => {
      const job = await rizz().jobs.authorize(auth.jobId, auth.token);
      return { rooms: [jobRoom(job.id)] };
    },
  },
  cron: (rizz) => [{
    name: 'rizz-purge-expired',
    schedule: '7 * * * *',
    description: 'Delete every job past its 24 hours (storage objects, rows) and write its deletion receipt',
    run: async () => rizz.deletion.purgeExpired(),
  }, {
    name: 'rizz-fail-stalled',
    schedule: '*/5 * * * *',
    description: 'Fail (and tell by SMS) jobs still processing after every attempt the generation queue would make',
    run: async () => rizz.pipeline.failStalled(rizz.stalledAfterSeconds),
  }],
  payments: { onPaid: (rizz, tx, payment) => rizz.jobs.paid(tx, payment.orderId) },
});

function createRizzServices(platform: ModulePlatform<typeof rizzServerEvents>, config: RizzConfig) {
  const registry = platform.metrics.registry;
  const generations = (registry.getSingleMetric('rizz_generations_total') as Counter<'outcome'> | undefined)
    ?? new Counter({ name: 'rizz_generations_total', help: 'Rizz jobs finished, by outcome (completed, failed)', labelNames: ['outcome'] as const, registers: [registry] });
  const smsSent = (registry.getSingleMetric('rizz_sms_total') as Counter<'purpose' | 'outcome'> | undefined)
    ?? new Counter({ name: 'rizz_sms_total', help: 'Rizz result SMS, by purpose and outcome (after the SMS service\'s retries)', labelNames: ['purpose', 'outcome'] as const, registers: [registry] });
  const payments = (registry.getSingleMetric('rizz_payments_total') as Counter<'outcome'> | undefined)
    ?? new Counter({ name: 'rizz_payments_total', help: 'Rizz orders started and paid (their ratio is the payment success rate)', labelNames: ['outcome'] as const, registers: [registry] });
  const generationSeconds = (registry.getSingleMetric('rizz_generation_seconds') as Histogram | undefined)
    ?? new Histogram({ name: 'rizz_generation_seconds', help: 'From the start of a generation run to the job completed or failed', buckets: [5, 15, 30, 60, 120, 300, 600], registers: [registry] });
  const purged = (registry.getSingleMetric('rizz_jobs_purged_total') as Counter | undefined)
    ?? new Counter({ name: 'rizz_jobs_purged_total', help: 'Rizz jobs deleted at their 24-hour expiry, with a receipt', registers: [registry] });
  const images = config.REPLICATE_API_TOKEN
    ? createReplicateClient({ apiToken: config.REPLICATE_API_TOKEN, model: config.REPLICATE_MODEL, baseUrl: config.REPLICATE_BASE_URL, logger: platform.logger })
    : createOfflineImages({ logger: platform.logger });
  const deletion = createDeletionService({ em: platform.em, storage: platform.storage, images, clock: platform.clock, time: platform.time, logger: platform.logger, onDeleted: (n) => purged.inc(n) });
  const jobs = createJobService({
    em: platform.em, clock: platform.clock, time: platform.time, logger: platform.logger, payments: platform.payments, personalData: platform.personalData,
    storage: platform.storage, pool: platform.pool, normalizePhone,
    provider: platform.config.PORTONE_API_SECRET ? 'portone' : undefined,
    wasDeleted: deletion.wasDeleted,
    onStarted: () => payments.inc({ outcome: 'initialized' }),
    onMoved: (job) => {
      platform.realtime.emitToRoom(jobRoom(job.id), 'job.updated', job);
      // A photo taken: the generation is queued, once per job (an exclusive queue).
      if (job.status === 'processing') {
        void platform.queue.send(GENERATE_QUEUE, { jobId: job.id }, { singletonKey: job.id })
          .catch((err: unknown) => platform.logger.error({ err, jobId: job.id }, 'rizz generation not queued'));
      }
      if (job.status === 'completed' || job.status === 'failed') generations.inc({ outcome: job.status });
      if (job.status === 'pending_phone') payments.inc({ outcome: 'paid' });
    },
  });
  const resultBase = config.RIZZ_RESULT_URL ?? `${platform.urls.public()}/result/`;
  const pipeline = createPipeline({
    em: platform.em, storage: platform.storage, images, llm: platform.llm, offlineLlm: platform.llmGateway.offline, sms: platform.sms, personalData: platform.personalData,
    jobs, logger: platform.logger, resultUrl: (jobId) => `${resultBase.replace(/\/?$/, '/')}${jobId}`,
    onFinished: (_job, seconds) => generationSeconds.observe(seconds),
    onSms: (purpose, outcome) => smsSent.inc({ purpose, outcome }),
  });
  // Three generations and a report take a minute or two; a run not done in
  // RIZZ_GENERATION_EXPIRE_SECONDS (10 minutes) is taken to have died with its node and is run again
  // (the pipeline takes the job over from the run before it; see services/rizz/pipeline.ts).
  void platform.queue.define<{ jobId: string }>(GENERATE_QUEUE, (data, run) => pipeline.run(data.jobId, { signal: run.signal, lastAttempt: run.retryCount >= GENERATE_RETRIES }),
    { expireInSeconds: config.RIZZ_GENERATION_EXPIRE_SECONDS, retryLimit: GENERATE_RETRIES, concurrency: 2, policy: 'exclusive' });
  const results = createResultService({
    em: platform.em, clock: platform.clock, time: platform.time, storage: platform.storage, personalData: platform.personalData,
    signingSecret: platform.config.URL_SIGNING_SECRET, normalizePhone, wasDeleted: deletion.wasDeleted,
  });
  return { jobs, deletion, results, pipeline, stalledAfterSeconds: stalledAfterSeconds(config, platform.config.QUEUE_SUPERVISE_SECONDS) };
}

// The care methods a report's recommendations are matched against (seed data, rewritten at every migration).
async function seedKnowledgeBase(em: Em): Promise<void> {
  for (const k of RIZZ_KNOWLEDGE_BASE) {
    await em.execute(
      `insert into rizz_knowledge_base (code, category, title, description, cost_min, cost_max, weeks_min, weeks_max) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (code) do update set category = excluded.category, title = excluded.title, description = excluded.description,
         cost_min = excluded.cost_min, cost_max = excluded.cost_max, weeks_min = excluded.weeks_min, weeks_max = excluded.weeks_max`,
      [k.code, k.category, k.title, k.description, k.typicalCostKrw.min, k.typicalCostKrw.max, k.durationWeeks.min, k.durationWeeks.max],
    );
  }
}

export type RizzServices = ReturnType<typeof createRizzServices>;
