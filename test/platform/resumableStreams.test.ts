// The shared resumable stream (services/streams): two hubs over one log stand for two nodes over
// one Redis; with REDIS_URL the same cases also run on the Redis log.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createLocalInvalidationBus } from '../../services/invalidation.ts';
import { createResumableStreams, type ResumableStreams, type StreamEvent, type StreamKind } from '../../services/streams/resumableStreams.ts';
import { createMemoryStreamLog, createRedisStreamLog, type StreamLog } from '../../services/streams/streamLog.ts';
import { redisUrl } from '../helpers.ts';
import { testState } from '../state.ts';

type Done = { id: string; length: number };
type Failure = { id: string; code: string; offset: number };

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const store of ['memory', 'redis'] as const) {
  describe(`resumable streams (${store} log)`, function () {
    let redis: Redis | undefined;
    let log: StreamLog;
    const hubs: ResumableStreams[] = [];

    before(function () {
      if (store === 'redis' && !redisUrl) return this.skip();
      if (store === 'redis') redis = new Redis(redisUrl!);
    });
    beforeEach(() => {
      log = store === 'redis'
        ? createRedisStreamLog({ redis: redis!, prefix: `test_${testState.runId}:stream:${crypto.randomUUID()}`, ttlSeconds: 60 })
        : createMemoryStreamLog({ ttlSeconds: 60 });
    });
    afterEach(() => hubs.splice(0).forEach((h) => h.stop()));
    after(() => redis?.disconnect());

    // A node: its hub over the shared log and bus, the events it emitted, and what its module closed as lost.
    function node(bus = createLocalInvalidationBus()) {
      const events: StreamEvent<Done, Failure>[] = [];
      const lost: string[] = [];
      const candidates: { id: string; userId: string; text: string }[] = [];
      const hub = createResumableStreams({ log: () => log, bus, nodeId: crypto.randomUUID(), logger, leaseMs: 300, sweepMs: 60_000 });
      hubs.push(hub);
      const kind: StreamKind<Done, Failure> = hub.define<Done, Failure>({
        name: 'test', logTtlSeconds: 60,
        emit: (_userId, e) => events.push(e),
        failure: (id, f) => ({ id, code: f.code, offset: f.offset }),
        onLost: async (id) => {
          lost.push(id);
          return true;
        },
        candidates: async () => candidates,
      });
      return { hub, kind, events, lost, candidates, bus };
    }

    it('logs deltas with offsets and the final state; a resume from any offset gets the rest and the outcome', async () => {
      const a = node();
      const b = node();
      const result = await a.kind.run('s1', { userId: 'u1', maxSeconds: 10 }, async (stream) => {
        stream.append('안녕');
        stream.append('하세요');
        expect((await b.kind.resume('s1', 2))).to.deep.include({ text: '하세요', nextOffset: 5, state: 'streaming' });
        return stream.finish({ id: 's1', length: 5 });
      });
      expect(result).to.equal(true);
      expect(a.events.map((e) => e.type)).to.deep.equal(['delta', 'delta', 'done']);
      expect(a.events[1]).to.deep.include({ offset: 2, text: '하세요' });
      expect(await b.kind.resume('s1', 1)).to.deep.equal({ text: '녕하세요', nextOffset: 5, state: 'done', done: { id: 's1', length: 5 }, failure: null });
    });

    it('a reader on another node learns within the lease that the generating node died, and the stream closes as lost once', async () => {
      const a = node();
      const b = node();
      const c = node();
      let release!: () => void;
      const hang = new Promise<void>((r) => (release = r));
      const running = a.kind.run('s2', { userId: 'u1', maxSeconds: 10 }, async (stream) => {
        stream.append('부분');
        await hang;
        return stream.finish({ id: 's2', length: 2 });
      });
      await sleep(20);
      expect((await b.kind.resume('s2', 0))!.state).to.equal('streaming');
      expect((await c.kind.resume('s2', 0))!.state).to.equal('streaming');
      // Node A dies: its lease is no longer renewed.
      a.hub.stop();
      const startedWaiting = Date.now();
      while (b.events.length + c.events.length === 0 && Date.now() - startedWaiting < 2000) await sleep(20);
      expect(Date.now() - startedWaiting).to.be.lessThan(1000);
      await sleep(200);
      const ended = [...b.events, ...c.events];
      expect(ended).to.have.length(1);
      expect(ended[0]).to.deep.equal({ type: 'error', id: 's2', payload: { id: 's2', code: 'answer_lost', offset: 2 } });
      expect([...b.lost, ...c.lost]).to.deep.equal(['s2']);
      // The "dead" node comes back and finishes: the final state is already taken, nothing is emitted.
      release();
      expect(await running).to.equal(false);
      expect(a.events.filter((e) => e.type !== 'delta')).to.deep.equal([]);
      expect((await b.kind.resume('s2', 0))!.failure).to.deep.include({ code: 'answer_lost' });
    });

    it('drain: refuses new streams, lets a quick one finish, interrupts the one still running at the deadline', async () => {
      const a = node();
      const quick = a.kind.run('q', { userId: 'u1', maxSeconds: 10 }, async (stream) => {
        await sleep(50);
        return stream.finish({ id: 'q', length: 0 });
      });
      let seen: string | undefined;
      const slow = a.kind.run('s', { userId: 'u1', maxSeconds: 10 }, async (stream) => {
        stream.append('반쯤');
        await new Promise((r) => stream.signal.addEventListener('abort', r));
        seen = stream.abortCode();
        return stream.fail({ id: 's', code: 'answer_interrupted', offset: stream.offset() });
      });
      const drained = a.hub.drain({ interruptAt: Date.now() + 200, deadline: Date.now() + 1000 });
      expect(() => a.kind.assertAccepting()).to.throw(/shutting down/);
      await drained;
      expect(await quick).to.equal(true);
      expect(await slow).to.equal(true);
      expect(seen).to.equal('interrupted');
      expect(a.hub.runningCount()).to.equal(0);
      expect((await a.kind.resume('s', 0))!.failure).to.deep.equal({ id: 's', code: 'answer_interrupted', offset: 2 });
    });

    it('cancel reaches the generating node through the bus; the deadline aborts with its own code', async () => {
      const bus = createLocalInvalidationBus();
      const a = node(bus);
      const b = node(bus);
      const codes: (string | undefined)[] = [];
      const body = (id: string) => async (stream: { signal: AbortSignal; abortCode: () => string | undefined; fail: (f: Failure) => Promise<boolean> }) => {
        await new Promise((r) => stream.signal.addEventListener('abort', r));
        codes.push(stream.abortCode());
        return stream.fail({ id, code: stream.abortCode()!, offset: 0 });
      };
      const cancelled = a.kind.run('c', { userId: 'u1', maxSeconds: 10 }, body('c'));
      await sleep(10);
      b.kind.cancel('c');
      await cancelled;
      await a.kind.run('t', { userId: 'u1', maxSeconds: 0.05 }, body('t'));
      expect(codes).to.deep.equal(['cancelled', 'timeout']);
    });

    it('the sweep closes candidates nobody holds and leaves running ones alone', async () => {
      const a = node();
      const b = node();
      let release!: () => void;
      const running = a.kind.run('alive', { userId: 'u1', maxSeconds: 10 }, async (stream) => {
        await new Promise<void>((r) => (release = r));
        return stream.finish({ id: 'alive', length: 0 });
      });
      await log.start('orphan', 'u2', 'dead-node', 1);
      log.append('orphan', '남은 글');
      await sleep(20);
      b.candidates.push({ id: 'alive', userId: 'u1', text: '' }, { id: 'orphan', userId: 'u2', text: '' }, { id: 'forgotten', userId: 'u3', text: '남은' });
      // 'forgotten' is in no log (a one-node restart): its row's owner and text close it.
      expect(await b.hub.sweep()).to.equal(2);
      expect(b.lost).to.deep.equal(['orphan', 'forgotten']);
      expect(b.events).to.deep.equal([
        { type: 'error', id: 'orphan', payload: { id: 'orphan', code: 'answer_lost', offset: 4 } },
        { type: 'error', id: 'forgotten', payload: { id: 'forgotten', code: 'answer_lost', offset: 2 } },
      ]);
      expect(await b.hub.sweep()).to.equal(0);
      release();
      expect(await running).to.equal(true);
    });
  });
}
