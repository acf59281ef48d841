import { expect } from 'chai';
import { createOrm, type Orm } from '../../server/db.ts';
import { createLogger } from '../../server/logger.ts';
import { createMetrics } from '../../server/metrics.ts';
import { createCronRunner, type CronJob, type CronRunner } from '../../server/cronRunner.ts';
import { purgeRefreshTokens } from '../../cron/purgeRefreshTokens.ts';
import { purgeMessageLogs } from '../../cron/purgeMessageLogs.ts';
import { newUser, request, startNode, stopAllNodes, testModules } from '../helpers.ts';
import { testState } from '../state.ts';

describe('platform: cron runner', () => {
  const logger = createLogger({ level: 'silent', pretty: false, nodeId: 'cron-test' });
  let orms: Orm[] = [];
  let runners: CronRunner[] = [];

  // Each runner stands for a separate cron process: its own ORM pool and its own lock connection.
  async function newRunner(nodeId: string): Promise<{ runner: CronRunner; orm: Orm }> {
    const orm = await createOrm({ url: testState.databaseUrl, poolMax: 2, logger, modules: testModules });
    const runner = createCronRunner({ orm, databaseUrl: testState.databaseUrl, logger, metrics: createMetrics({ nodeId }), nodeId, timeZone: 'Asia/Seoul' });
    orms.push(orm);
    runners.push(runner);
    return { runner, orm };
  }

  afterEach(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await Promise.all(orms.map((o) => o.close(true)));
    orms = [];
    runners = [];
  });

  it('runs a slot once when two cron processes race for it, and records the run', async () => {
    const { runner: a, orm } = await newRunner('cron-a');
    const { runner: b } = await newRunner('cron-b');
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job: CronJob = {
      name: `race-${Date.now()}`,
      schedule: '* * * * *',
      description: 'test job',
      run: async () => {
        runs++;
        await gate;
        return { ok: true };
      },
    };
    const slot = new Date('2026-11-22T03:00:00Z');
    const attempts = [a.runOnce(job, slot), b.runOnce(job, slot)];
    // The winner cannot finish before release(), so the first runner to answer is the loser, and it
    // answered while the winner held the job: the overlap is real.
    await Promise.race(attempts);
    release();
    const outcomes = (await Promise.all(attempts)).sort();
    expect(runs).to.equal(1);
    expect(outcomes).to.have.length(2);
    expect(outcomes).to.include('succeeded');
    expect(outcomes.filter((o) => o.startsWith('skipped'))).to.have.length(1);
    // A runner that fires late, after the winner finished, finds the slot taken.
    expect(await b.runOnce(job, slot)).to.equal('skipped_slot_taken');
    expect(runs).to.equal(1);
    const rows = await orm.em.fork().execute('select status, node, result, finished_at from cron_runs where job_name = ?', [job.name]);
    expect(rows).to.have.length(1);
    expect(rows[0].status).to.equal('succeeded');
    expect(rows[0].result).to.deep.equal({ ok: true });
    expect(Number.isNaN(Date.parse(rows[0].finished_at))).to.equal(false);
  });

  it('records a failed run with its error, and runs the next slot', async () => {
    const { runner, orm } = await newRunner('cron-c');
    let attempt = 0;
    const job: CronJob = {
      name: `fail-${Date.now()}`, schedule: '* * * * *', description: 'fails once',
      run: async () => {
        if (++attempt === 1) throw new Error('provider exploded');
      },
    };
    expect(await runner.runOnce(job, new Date('2026-11-22T03:01:00Z'))).to.equal('failed');
    expect(await runner.runOnce(job, new Date('2026-11-22T03:02:00Z'))).to.equal('succeeded');
    const rows = await orm.em.fork().execute('select status, error from cron_runs where job_name = ? order by slot', [job.name]);
    expect(rows.map((r) => r.status)).to.deep.equal(['failed', 'succeeded']);
    expect(rows[0].error).to.match(/provider exploded/);
  });

  it('purges expired and long-revoked refresh tokens, keeping live sessions', async () => {
    const node = await startNode();
    try {
      const live = await newUser(node);
      const expired = await newUser(node);
      const revoked = await newUser(node);
      await request(node, 'POST', '/auth/logout', { token: revoked.accessToken });
      const em = node.ctx.db.orm.em.fork();
      await em.execute(`update refresh_token_families set expires_at = now() - interval '1 hour' where user_id = ?`, [expired.id]);
      await em.execute(`update refresh_tokens set expires_at = now() - interval '2 days' where user_id = ?`, [expired.id]);
      await em.execute(`update refresh_token_families set revoked_at = now() - interval '2 days' where user_id = ?`, [revoked.id]);
      const { runner } = await newRunner('cron-d');
      expect(await runner.runOnce(purgeRefreshTokens, new Date())).to.equal('succeeded');
      const remaining = await em.execute<{ user_id: string }[]>('select user_id from refresh_tokens where user_id in (?, ?, ?)', [live.id, expired.id, revoked.id]);
      expect(remaining.map((r) => r.user_id)).to.deep.equal([live.id]);
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: live.refreshToken } })).status).to.equal(200);
    } finally {
      await stopAllNodes();
    }
  });

  it('purges SMS logs after 90 days and the offline outbox after 7, keeping newer rows', async () => {
    const node = await startNode();
    try {
      const u = await newUser(node);
      // The offline SMS driver writes one sms_logs row and one outbox row per send.
      await node.services.sms.send({ phone: '010-1234-5678', text: 'cron purge old message', purpose: 'cron-purge.old', userId: u.id });
      await node.services.sms.send({ phone: '010-1234-5678', text: 'cron purge new message', purpose: 'cron-purge.new', userId: u.id });
      const em = node.ctx.db.orm.em.fork();
      await em.execute(`update sms_logs set created_at = now() - interval '91 days' where purpose = 'cron-purge.old'`);
      await em.execute(`update offline_outbox set created_at = now() - interval '8 days' where payload::text like '%cron purge old message%'`);
      const { runner } = await newRunner('cron-e');
      expect(await runner.runOnce(purgeMessageLogs, new Date())).to.equal('succeeded');
      const purposes = (await em.execute<{ purpose: string }[]>(`select purpose from sms_logs where purpose like 'cron-purge.%'`)).map((r) => r.purpose);
      expect(purposes).to.deep.equal(['cron-purge.new']);
      const outbox = await em.execute<{ payload: string }[]>(`select payload::text as payload from offline_outbox where payload::text like '%cron purge%'`);
      expect(outbox.map((r) => r.payload).join()).to.include('cron purge new message').and.not.include('cron purge old message');
    } finally {
      await stopAllNodes();
    }
  });
});

