// The one retry policy (integrations/retry.ts) that provider clients, the LLM gateway and
// inTransaction share: its schedule, its loop, and a real serialization failure retried.
import { expect } from 'chai';
import { MikroORM } from '@mikro-orm/postgresql';
import { ProviderCallError, ProviderError, withRetries } from '../../integrations/http.ts';
import { RetryCancelledError, backoffDelayMs, retryWithBackoff, type Backoff } from '../../integrations/retry.ts';
import { inTransaction, onCommitted, sqlState } from '../../services/transaction.ts';
import { testState } from '../state.ts';

class Flaky extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(retryable: boolean, retryAfterMs?: number) {
    super(retryable ? 'try again' : 'never works');
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

const isRetryable = (err: unknown) => err instanceof Flaky && err.retryable;

// An attempt that throws the given failures in turn, then answers with its attempt number.
function failing(...failures: Error[]) {
  const seen: number[] = [];
  const attempt = async (n: number) => {
    seen.push(n);
    const failure = failures[n - 1];
    if (failure) throw failure;
    return n;
  };
  return { attempt, seen };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return expect.fail('expected a rejection');
}

describe('platform: retry policy', () => {
  describe('schedule', () => {
    const steady: Backoff = { baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 };

    it('doubles each step from the base', () => {
      expect([0, 1, 2, 3].map((i) => backoffDelayMs(steady, i))).to.deep.equal([100, 200, 400, 800]);
    });

    it('never waits longer than the cap', () => {
      expect(backoffDelayMs(steady, 4)).to.equal(1000);
      expect(backoffDelayMs(steady, 30)).to.equal(1000);
    });

    it('jitters within step × (1 ± f), or anywhere below the step with full jitter', () => {
      const at = (jitter: Backoff['jitter'], r: number) => backoffDelayMs({ ...steady, jitter, random: () => r }, 1);
      expect(at(0.2, 0)).to.be.closeTo(160, 1e-9);
      expect(at(0.2, 0.5)).to.be.closeTo(200, 1e-9);
      expect(at(0.2, 0.999999)).to.be.closeTo(240, 1e-3);
      expect(at('full', 0)).to.equal(0);
      expect(at('full', 0.5)).to.equal(100);
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs({ ...steady, jitter: 0.2 }, 2);
        expect(d).to.be.within(320, 480);
      }
    });

    it("honours a server's Retry-After when it asks for longer, up to the cap", () => {
      expect(backoffDelayMs(steady, 0, 700)).to.equal(700);
      expect(backoffDelayMs(steady, 0, 30_000)).to.equal(1000);
      // A shorter Retry-After does not cut our own step.
      expect(backoffDelayMs(steady, 2, 10)).to.equal(400);
    });
  });

  describe('loop', () => {
    const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 1000, jitter: 0 } as const;

    it('retries retryable failures, then answers; every failure is reported first', async () => {
      const { attempt, seen } = failing(new Flaky(true), new Flaky(true));
      const reported: [number, boolean][] = [];
      const n = await retryWithBackoff(fast, attempt, { retryable: isRetryable, onFailure: (_err, k, willRetry) => void reported.push([k, willRetry]) });
      expect(n).to.equal(3);
      expect(seen).to.deep.equal([1, 2, 3]);
      expect(reported).to.deep.equal([[1, true], [2, true]]);
    });

    it('gives up after its retries with the last failure', async () => {
      const failures = [1, 2, 3, 4, 5].map(() => new Flaky(true));
      const { attempt, seen } = failing(...failures);
      const reported: boolean[] = [];
      const err = await rejection(retryWithBackoff(fast, attempt, { retryable: isRetryable, onFailure: (_e, _n, w) => void reported.push(w) }));
      expect(err).to.equal(failures[3]);
      expect(seen).to.deep.equal([1, 2, 3, 4]);
      expect(reported).to.deep.equal([true, true, true, false]);
    });

    it('stops at once on a failure that is not retryable', async () => {
      const fatal = new Flaky(false);
      const { attempt, seen } = failing(new Flaky(true), fatal);
      const reported: boolean[] = [];
      expect(await rejection(retryWithBackoff(fast, attempt, { retryable: isRetryable, onFailure: (_e, _n, w) => void reported.push(w) }))).to.equal(fatal);
      expect(seen).to.deep.equal([1, 2]);
      expect(reported).to.deep.equal([true, false]);
      // Nor is anything that is not an Error retried unless the caller says so.
      const odd = { attempt: async () => Promise.reject('a string') };
      expect(await rejection(retryWithBackoff(fast, odd.attempt, { retryable: isRetryable }))).to.equal('a string');
    });

    it('never retries with retries: 0', async () => {
      const { attempt, seen } = failing(new Flaky(true));
      await rejection(retryWithBackoff({ ...fast, retries: 0 }, attempt, { retryable: isRetryable }));
      expect(seen).to.deep.equal([1]);
    });

    it('waits the growing schedule between attempts', async () => {
      const { attempt } = failing(new Flaky(true), new Flaky(true));
      const started = performance.now();
      await retryWithBackoff({ retries: 2, baseDelayMs: 25, maxDelayMs: 1000, jitter: 0 }, attempt, { retryable: isRetryable });
      // 25 ms, then 50 ms.
      expect(performance.now() - started).to.be.at.least(70);
    });

    it("waits as long as the server's Retry-After asks, up to the cap", async () => {
      const retryAfterMs = (err: unknown) => (err as Flaky).retryAfterMs;
      let started = performance.now();
      await retryWithBackoff(fast, failing(new Flaky(true, 80)).attempt, { retryable: isRetryable, retryAfterMs });
      expect(performance.now() - started).to.be.at.least(75);

      started = performance.now();
      await retryWithBackoff({ ...fast, maxDelayMs: 30 }, failing(new Flaky(true, 60_000)).attempt, { retryable: isRetryable, retryAfterMs });
      expect(performance.now() - started).to.be.below(1000);
    });

    it('awaits the failure report before waiting and trying again', async () => {
      const events: string[] = [];
      const attempt = async (n: number) => {
        events.push(`attempt ${n}`);
        if (n === 1) throw new Flaky(true);
        return n;
      };
      await retryWithBackoff(fast, attempt, {
        retryable: isRetryable,
        onFailure: async (_err, n) => {
          await new Promise((r) => setTimeout(r, 20));
          events.push(`recorded ${n}`);
        },
      });
      expect(events).to.deep.equal(['attempt 1', 'recorded 1', 'attempt 2']);
    });

    it('stops waiting at once when the signal fires during the backoff', async () => {
      const controller = new AbortController();
      const first = new Flaky(true);
      const { attempt, seen } = failing(first);
      const started = performance.now();
      setTimeout(() => controller.abort(new Error('user left')), 30);
      const err = await rejection(retryWithBackoff({ ...fast, baseDelayMs: 60_000, maxDelayMs: 60_000 }, attempt, { retryable: isRetryable, signal: controller.signal }));
      expect(performance.now() - started).to.be.below(1000);
      expect(err).to.be.instanceOf(RetryCancelledError);
      expect((err as RetryCancelledError).lastError).to.equal(first);
      expect(((err as RetryCancelledError).cause as Error).message).to.equal('user left');
      expect(seen).to.deep.equal([1]);
    });

    it('does not retry once the signal has fired', async () => {
      const controller = new AbortController();
      const failure = new Flaky(true);
      const reported: boolean[] = [];
      const attempt = async () => {
        controller.abort();
        throw failure;
      };
      const err = await rejection(retryWithBackoff(fast, attempt, { retryable: isRetryable, signal: controller.signal, onFailure: (_e, _n, w) => void reported.push(w) }));
      expect(err).to.equal(failure);
      expect(reported).to.deep.equal([false]);
    });
  });

  describe('withRetries (provider clients)', () => {
    it('retries retryable ProviderErrors, honouring Retry-After up to maxDelayMs', async () => {
      const { attempt, seen } = failing(
        new ProviderCallError('sms', 'throttled', 'HTTP 429', { status: 429, retryable: true, retryAfterMs: 60 }),
        new ProviderError('sms', 'HTTP 503', { status: 503, retryable: true }),
      );
      const started = performance.now();
      expect(await withRetries({ retries: 3, baseDelayMs: 1 }, attempt)).to.equal(3);
      expect(seen).to.deep.equal([1, 2, 3]);
      expect(performance.now() - started).to.be.at.least(55);

      const capped = failing(new ProviderCallError('sms', 'throttled', 'HTTP 429', { status: 429, retryable: true, retryAfterMs: 60_000 }));
      const t0 = performance.now();
      expect(await withRetries({ retries: 1, baseDelayMs: 1, maxDelayMs: 20 }, capped.attempt)).to.equal(2);
      expect(performance.now() - t0).to.be.below(1000);
    });

    it('does not retry a refused request or an error of its own', async () => {
      const refused = failing(new ProviderError('sms', 'HTTP 400', { status: 400, retryable: false }));
      await rejection(withRetries({ retries: 3, baseDelayMs: 1 }, refused.attempt));
      expect(refused.seen).to.deep.equal([1]);
      const bug = failing(new TypeError('oops'));
      await rejection(withRetries({ retries: 3, baseDelayMs: 1 }, bug.attempt));
      expect(bug.seen).to.deep.equal([1]);
    });
  });

  describe('inTransaction', () => {
    let orm: MikroORM;
    // The run has a database of its own (test/setup.ts), so a fixed name cannot collide.
    const table = 'retry_probe';

    before(async () => {
      // Raw SQL on a table of its own: no entities needed.
      orm = await MikroORM.init({ clientUrl: testState.databaseUrl, entities: [], discovery: { warnWhenNoEntities: false }, pool: { max: 4 } });
      await orm.em.fork().execute(`create table ${table} (id int primary key, n int not null)`);
    });
    after(async () => {
      await orm.em.fork().execute(`drop table if exists ${table}`);
      await orm.close(true);
    });
    beforeEach(async () => {
      await orm.em.fork().execute(`delete from ${table}`);
      await orm.em.fork().execute(`insert into ${table} (id, n) values (1, 0)`);
    });

    it('runs onCommitted hooks after the commit, never for a rolled-back transaction or a retried attempt', async () => {
      const ran: string[] = [];
      await inTransaction(orm.em.fork(), async (tx) => {
        await tx.execute(`update ${table} set n = n + 1 where id = 1`);
        onCommitted(tx, () => ran.push('committed'));
        // Not yet: the transaction is still open.
        expect(ran).to.deep.equal([]);
      });
      expect(ran).to.deep.equal(['committed']);
      const failed = await inTransaction(orm.em.fork(), async (tx) => {
        onCommitted(tx, () => ran.push('rolled back'));
        throw new Error('the work failed');
      }).catch((e: Error) => e.message);
      expect(failed).to.equal('the work failed');
      let attempts = 0;
      await inTransaction(orm.em.fork(), async (tx) => {
        attempts++;
        onCommitted(tx, () => ran.push(`attempt ${attempts}`));
        if (attempts === 1) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      });
      expect(ran).to.deep.equal(['committed', 'attempt 2']);
    });

    it('retries a serialization failure between two concurrent serializable transactions', async () => {
      const firstRead = Promise.withResolvers<void>();
      const otherCommitted = Promise.withResolvers<void>();
      const failures: string[] = [];
      let runs = 0;

      // Reads n, lets the other transaction commit a change to the same row, then writes n + 1:
      // Postgres refuses that write (40001), and the retry reads the committed value.
      const first = inTransaction(orm.em.fork(), async (tx) => {
        runs++;
        await tx.execute('set transaction isolation level serializable');
        const [row] = await tx.execute<{ n: number }[]>(`select n from ${table} where id = 1`);
        if (runs === 1) {
          firstRead.resolve();
          await otherCommitted.promise;
        }
        try {
          await tx.execute(`update ${table} set n = ? where id = 1`, [row.n + 1]);
        } catch (err) {
          failures.push(sqlState(err));
          throw err;
        }
        return runs;
      });

      await firstRead.promise;
      await inTransaction(orm.em.fork(), async (tx) => {
        await tx.execute('set transaction isolation level serializable');
        await tx.execute(`update ${table} set n = n + 10 where id = 1`);
      });
      otherCommitted.resolve();

      expect(await first).to.equal(2);
      expect(failures).to.deep.equal(['40001']);
      const [row] = await orm.em.fork().execute<{ n: number }[]>(`select n from ${table} where id = 1`);
      // Both writes landed, as if one ran after the other.
      expect(row.n).to.equal(11);
    });

    it('does not retry any other failure', async () => {
      let runs = 0;
      const err = await rejection(inTransaction(orm.em.fork(), async (tx) => {
        runs++;
        await tx.execute(`insert into ${table} (id, n) values (1, 5)`);
      }));
      expect(sqlState(err)).to.equal('23505');
      expect(runs).to.equal(1);
    });
  });
});
