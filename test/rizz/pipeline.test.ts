// The rizz generation pipeline with the real Replicate client against its wire-level fake: three
// portraits and the report, a failure that fails the job and says so by SMS, two runs of one job at
// once, the predictions forgotten at the 24-hour deletion — and a node killed mid-generation, its job
// finished by another node after the queue's expiry.
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { startApiNode } from '../../server/node.ts';
import { moduleServices } from '../../server/context.ts';
import { createDatabaseIfMissing, dropDatabase } from '../../server/db.ts';
import { modules } from '../../modules/index.ts';
import { rizzModule } from '../../modules/rizz/index.ts';
import { startFakeReplicate, type FakeReplicate } from '../fakes/replicate.ts';
import { closeAllSockets, request, spawnServer, startNode, stopAllNodes, testConfig } from '../helpers.ts';
import { testState } from '../state.ts';

const VERSION = 'b'.repeat(64);
const selfie = () => sharp({ create: { width: 900, height: 1200, channels: 3, background: { r: 170, g: 130, b: 110 } } }).jpeg().toBuffer();

// Payment (sandbox), phone and photo on `url`: the job is processing and queued when this returns.
async function photographedJob(url: string, phone = '010-7777-8888'): Promise<{ jobId: string; token: string }> {
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { 'x-job-token': token } : {}) }, body: JSON.stringify(body) });
  const started = (await (await post('/payments/initialize', {})).json()) as { job: { id: string }; jobToken: string; order: { orderId: string } };
  const approved = await fetch(`${url}/sandbox/checkout/${started.order.orderId}/approve`, { method: 'POST' });
  expect(approved.status).to.equal(200);
  expect((await post(`/jobs/${started.job.id}/phone`, { phone }, started.jobToken)).status).to.equal(200);
  const up = await fetch(`${url}/jobs/${started.job.id}/upload`, { method: 'POST', headers: { 'x-job-token': started.jobToken, 'content-type': 'image/jpeg' }, body: new Uint8Array(await selfie()) });
  expect(up.status, await up.clone().text()).to.equal(200);
  return { jobId: started.job.id, token: started.jobToken };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('rizz: the generation pipeline on Replicate (wire-level fake)', function () {
  this.timeout(60_000);
  let fake: FakeReplicate;
  let node: ApiNode;
  before(async () => {
    fake = await startFakeReplicate();
    node = await startNode({ REPLICATE_API_TOKEN: fake.token, REPLICATE_BASE_URL: fake.apiUrl, REPLICATE_MODEL: VERSION, QUEUE_POLL_SECONDS: '0.5' });
  });
  beforeEach(() => {
    fake.pollsToFinish = 1;
  });
  afterEach(closeAllSockets);
  after(async () => {
    await stopAllNodes();
    await fake.close();
  });

  const db = () => node.ctx.db.orm.em.fork();
  const jobRow = async (jobId: string) => (await db().execute<{ status: string; failure_reason: string | null; guest_user_id: string }[]>('select status, failure_reason, guest_user_id from rizz_jobs where id = ?', [jobId]))[0];
  const finished = (jobId: string) => until('the job to finish', async () => {
    const r = await jobRow(jobId);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, 30_000);

  it('makes three portraits with one prompt and three seeds, keeps their prediction ids, and the deletion asks Replicate to forget them', async () => {
    const creates = fake.count('create');
    const { jobId } = await photographedJob(node.url);
    expect((await finished(jobId)).status).to.equal('completed');
    const made = fake.requests.filter((r) => r.route === 'create').slice(creates).map((r) => r.json.input);
    expect(made.map((i: { seed: number }) => i.seed)).to.deep.equal([11, 22, 33]);
    expect(new Set(made.map((i: { prompt: string }) => i.prompt)).size).to.equal(1);
    const results = await db().execute<{ provider: string; provider_ref: string }[]>(`select provider, provider_ref from rizz_job_files where job_id = ? and kind = 'result'`, [jobId]);
    expect(results).to.have.length(3);
    expect(results.every((r) => r.provider === 'replicate' && fake.predictions.has(r.provider_ref))).to.equal(true);

    await db().execute(`update rizz_jobs set expires_at = now() - interval '1 second' where id = ?`, [jobId]);
    const cancels = fake.count('cancel');
    await moduleServices(node.services, rizzModule).deletion.purgeExpired();
    expect(fake.count('cancel') - cancels).to.equal(3);
    const receipt = await request(node, 'GET', `/results/${jobId}/receipt`);
    expect(receipt.body.deleted.providerPredictions).to.deep.equal({ asked: 3, canceled: 0, finished: 3, notFound: 0, unconfirmed: 0 });
  });

  it('fails the job with its reason when a prediction fails, and the SMS says so', async () => {
    fake.outcomes('failed');
    const { jobId } = await photographedJob(node.url, '010-7777-9999');
    const job = await finished(jobId);
    expect(job.status).to.equal('failed');
    expect(job.failure_reason).to.match(/prediction/i);
    const sms = await until('the failure SMS', async () => {
      const rows = await db().execute<{ purpose: string }[]>('select purpose from sms_logs where user_id = ?', [job.guest_user_id]);
      return rows.length ? rows : undefined;
    }, 5_000);
    expect(sms.map((r) => r.purpose)).to.deep.equal(['rizz.report_failed']);
    expect(await db().execute(`select 1 from rizz_job_files where job_id = ? and kind = 'result'`, [jobId])).to.have.length(0);
  });

  it('runs one job twice at once without doubling anything: one completes it, the other stops', async () => {
    // Held in the queue's place: the job is made processing without queueing by moving it by hand.
    const { jobId } = await photographedJob(node.url, '010-7777-6666');
    await finished(jobId);
    await db().execute(`delete from rizz_job_files where job_id = ? and kind = 'result'`, [jobId]);
    await db().execute(`update rizz_jobs set status = 'processing', ai_analysis = null where id = ?`, [jobId]);
    const [guest] = await db().execute<{ guest_user_id: string }[]>('select guest_user_id from rizz_jobs where id = ?', [jobId]);
    const smsBefore = (await db().execute('select 1 from sms_logs where user_id = ?', [guest.guest_user_id])).length;
    const { pipeline } = moduleServices(node.services, rizzModule);
    await Promise.all([pipeline.run(jobId), pipeline.run(jobId)]);
    expect((await jobRow(jobId)).status).to.equal('completed');
    expect(await db().execute(`select 1 from rizz_job_files where job_id = ? and kind = 'result'`, [jobId])).to.have.length(3);
    await new Promise((r) => setTimeout(r, 300));
    expect((await db().execute('select 1 from sms_logs where user_id = ?', [guest.guest_user_id])).length - smsBefore, 'result SMS sent once').to.equal(1);
  });


  it('fails a job still processing after every attempt the queue would make, and tells its client', async () => {
    const { jobId } = await photographedJob(node.url, '010-7777-5555');
    await finished(jobId);
    const [guest] = await db().execute<{ guest_user_id: string }[]>('select guest_user_id from rizz_jobs where id = ?', [jobId]);
    await db().execute(`update rizz_jobs set status = 'processing', updated_at = now() - interval '2 hours' where id = ?`, [jobId]);
    const rizz = moduleServices(node.services, rizzModule);
    expect(rizz.stalledAfterSeconds).to.be.above(4 * 600);
    expect(await rizz.pipeline.failStalled(3 * 3600)).to.deep.equal({ failed: 0 });
    expect(await rizz.pipeline.failStalled(3600)).to.deep.equal({ failed: 1 });
    const job = await jobRow(jobId);
    expect(job.status).to.equal('failed');
    expect(job.failure_reason).to.match(/^generation_stalled/);
    await until('the failure SMS', async () => {
      const rows = await db().execute<{ purpose: string }[]>('select purpose from sms_logs where user_id = ? and purpose = ?', [guest.guest_user_id, 'rizz.report_failed']);
      return rows.length ? rows : undefined;
    }, 5_000);
  });
});

describe('rizz: a node killed mid-generation', function () {
  this.timeout(90_000);
  let fake: FakeReplicate;
  let databaseUrl: string;
  let env: Record<string, string>;
  let survivor: ApiNode | undefined;
  const children: ChildProcess[] = [];

  before(async () => {
    fake = await startFakeReplicate();
    // A database of its own, migrated by `npm start` itself (the run's database holds the test module).
    const url = new URL(testState.databaseUrl);
    url.pathname = `${url.pathname}_rizzkill`;
    databaseUrl = url.toString();
    await dropDatabase(databaseUrl).catch(() => undefined);
    await createDatabaseIfMissing(databaseUrl);
    env = {
      DATABASE_URL: databaseUrl, REPLICATE_API_TOKEN: fake.token, REPLICATE_BASE_URL: fake.apiUrl, REPLICATE_MODEL: VERSION,
      RIZZ_GENERATION_EXPIRE_SECONDS: '10', QUEUE_POLL_SECONDS: '0.5', QUEUE_SUPERVISE_SECONDS: '1',
    };
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await survivor?.shutdown('test done');
    await fake.close();
    await dropDatabase(databaseUrl);
  });

  it('resumes the job on another node after the queue\'s expiry and completes it once', async () => {
    const child = await spawnServer({ ...env, NODE_ID: 'doomed', MIGRATE_ON_START: 'true' });
    children.push(child.proc);
    fake.outcomes('stuck');
    const { jobId } = await photographedJob(child.url);
    // The dead node's run has its first prediction at Replicate when the node is killed.
    await until('the first prediction', async () => (fake.count('create') > 0 ? true : undefined), 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${child.output().slice(-3000)}`);
    });
    child.proc.kill('SIGKILL');
    await child.exited;

    survivor = await startApiNode(testConfig({ ...env, NODE_ID: 'survivor' }), { modules });
    const db = () => survivor!.ctx.db.orm.em.fork();
    const started = Date.now();
    const job = await until('the job completed by the survivor', async () => {
      const [r] = await db().execute<{ status: string; generation_run: string }[]>('select status, generation_run from rizz_jobs where id = ?', [jobId]);
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 45_000).catch(async (err: Error) => {
      const jobs = await db().execute(`select name, state, retry_count, retry_limit, expire_seconds, started_on, completed_on, output from pgboss.job where name = 'rizz-generate'`);
      throw new Error(`${err.message}\n${JSON.stringify(jobs, null, 1)}`);
    });
    expect(job.status).to.equal('completed');
    const results = await db().execute<{ provider_ref: string }[]>(`select provider_ref from rizz_job_files where job_id = ? and kind = 'result'`, [jobId]);
    expect(results).to.have.length(3);
    // The dead run's stuck prediction is not among the results; the survivor made three of its own.
    const [deadRuns] = [...fake.predictions.keys()];
    expect(results.map((r) => r.provider_ref)).to.not.include(deadRuns);
    expect(fake.count('create')).to.equal(4);
    // Picked up after the 10 s expiry and a supervise pass, then three portraits.
    expect(Date.now() - started).to.be.below(40_000);
  });
});
