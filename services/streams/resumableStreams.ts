// Resumable streams: text generated on one node for one user (a coach answer, a chat reply, a
// story), delivered live to every socket of the user and readable from any offset on any node, with
// one final state. The pieces every such stream needs, built once:
//
// - an owner: the generating node holds a lease it renews every `leaseMs / 3`; a reader on another
//   node that finds the lease lapsed without a final state knows the node died, and closes the
//   stream as lost (within `leaseMs` plus one watch tick of the death);
// - an offset log (streamLog.ts), so a client that reconnects anywhere gets the rest;
// - a final state recorded once: the generating node finishing and another node declaring it lost
//   race on one conditional write, and only the winner's outcome is emitted and applied;
// - cancel from any node (through the bus), a deadline, and a drain on shutdown that stops new
//   streams, lets running ones finish, and interrupts the rest before the node goes;
// - a sweep on every API node that closes what a dead node left behind (the module names its
//   candidates: its rows still marked streaming).
//
// A module defines a kind per stream it produces (its event names, payload shapes, and what "lost"
// means for its rows and charges); the generation itself stays the module's.
import type { Logger } from 'pino';
import { unavailable } from '../errors.ts';
import type { InvalidationBus } from '../invalidation.ts';
import type { StreamFinal, StreamLog } from './streamLog.ts';

export type AbortCode = 'cancelled' | 'timeout' | 'interrupted';

export type StreamEvent<Done, Failure> =
  | { type: 'delta'; id: string; offset: number; text: string }
  | { type: 'done'; id: string; payload: Done }
  | { type: 'error'; id: string; payload: Failure };

export type StreamKindSpec<Done, Failure> = {
  // Unique per module; part of the log's keys and the cancel topic.
  name: string;
  // How long a stream stays readable from the log after its last write (the module's row is read after).
  logTtlSeconds: number;
  emit: (userId: string, event: StreamEvent<Done, Failure>) => void;
  // The module's failure payload for a stream the platform ended (lost or interrupted).
  failure: (id: string, f: { code: 'answer_lost' | 'answer_interrupted'; message: string; offset: number }) => Failure;
  // Called once, on the node that won the final state, for a stream whose generating node is gone:
  // close the module's row (keeping `text`, what was generated) and give back what was charged.
  // Conditional on the row still being open; false when it was not (nothing is emitted then).
  onLost: (id: string, lost: { userId: string; text: string }) => Promise<boolean>;
  // The module's streams that may have been left behind: those still marked streaming and older
  // than a few seconds (younger ones may not have taken their lease yet), with their owner and the
  // text their row holds (what closes them when the log has forgotten them: a one-node restart).
  candidates?: () => Promise<{ id: string; userId: string; text: string }[]>;
};

export type ReadStream<Done, Failure> = {
  text: string;
  nextOffset: number;
  state: 'streaming' | 'done' | 'failed';
  done: Done | null;
  failure: Failure | null;
};

export type RunningStream<Done, Failure> = {
  id: string;
  // Aborted by a cancel (any node), the deadline, or the node's drain; see abortCode.
  signal: AbortSignal;
  abortCode: () => AbortCode | undefined;
  // Characters appended so far: the offset of the next delta.
  offset: () => number;
  append: (text: string) => void;
  // Record the final state, run `apply` (the module's row update), then emit it, so a client that
  // hears the end finds the row closed. False (nothing applied or emitted) when the stream was
  // already closed: declared lost while this node was unreachable.
  finish: (done: Done, apply?: () => Promise<void>) => Promise<boolean>;
  fail: (failure: Failure, apply?: () => Promise<void>) => Promise<boolean>;
};

export type StreamKind<Done, Failure> = {
  // Throws 503 `draining` when this node is shutting down: call it before charging anything.
  assertAccepting: () => void;
  run: <T>(id: string, opts: { userId: string; maxSeconds: number }, body: (stream: RunningStream<Done, Failure>) => Promise<T>) => Promise<T>;
  // A stream complete at birth (a cached answer): logged and emitted as one delta and its final event.
  complete: (id: string, userId: string, text: string, done: Done) => Promise<void>;
  // What a client that holds `offset` characters missed. A stream still generating is watched from
  // here on, so that this client hears of its end even if the generating node dies. Null when the
  // log no longer holds it (expired, or a one-node restart): the module's row answers then.
  resume: (id: string, offset: number) => Promise<ReadStream<Done, Failure> | null>;
  // Closes a stream the log has forgotten but the module's row still says is streaming.
  declareLost: (id: string, lost: { userId: string; text: string }) => Promise<Failure | null>;
  cancel: (id: string) => void;
  runningCount: () => number;
};

// What a module is given: kinds named within the module.
export type ModuleStreams = Pick<ResumableStreams, 'define'>;

export function moduleStreams(streams: ResumableStreams, module: string): ModuleStreams {
  return { define: (spec) => streams.define({ ...spec, name: `${module}.${spec.name}` }) };
}

export type ResumableStreams = {
  define: <Done, Failure>(spec: StreamKindSpec<Done, Failure>) => StreamKind<Done, Failure>;
  // Stops new streams, waits for running ones until `interruptAt`, then interrupts the rest and
  // waits (until `deadline`) for them to record their final state.
  drain: (opts: { interruptAt: number; deadline: number }) => Promise<void>;
  // One sweep pass over every kind's candidates (also run every `sweepMs` on API nodes).
  sweep: () => Promise<number>;
  startSweeping: () => void;
  stop: () => void;
  runningCount: () => number;
};

type Running = { kind: string; abort: AbortController; code?: AbortCode; finished: Promise<unknown> };

const CANCEL_TOPIC = 'stream.cancel';
const WATCH_MAX_MS = 3_600_000;

export function createResumableStreams(deps: {
  log: (kind: string, ttlSeconds: number) => StreamLog;
  bus: InvalidationBus;
  nodeId: string;
  logger: Logger;
  leaseMs?: number;
  sweepMs?: number;
}): ResumableStreams {
  const leaseMs = deps.leaseMs ?? 5000;
  const sweepMs = deps.sweepMs ?? 30_000;
  // Streams generating on this node, by `${kind}:${id}`.
  const running = new Map<string, Running>();
  // Streams other nodes generate that clients here resumed: checked every lease tick.
  const watched = new Map<string, { kind: string; id: string; since: number }>();
  const kinds = new Map<string, { spec: StreamKindSpec<unknown, unknown>; log: StreamLog; declareLost: (id: string, lost?: { userId: string; text: string }) => Promise<unknown> }>();
  let draining = false;

  const abort = (key: string, code: AbortCode) => {
    const r = running.get(key);
    if (!r || r.abort.signal.aborted) return;
    r.code = code;
    r.abort.abort(new Error(`stream ${code}`));
  };
  deps.bus.subscribe(CANCEL_TOPIC, (key) => abort(key, 'cancelled'));

  // One timer renews every lease this node holds and checks every stream it watches.
  const tick = setInterval(() => {
    for (const [name, k] of kinds) {
      const ids = [...running.entries()].filter(([, r]) => r.kind === name).map(([key]) => key.slice(name.length + 1));
      k.log.renew(ids, deps.nodeId, leaseMs).catch((err) => deps.logger.warn({ err: String(err), kind: name }, 'stream leases not renewed'));
    }
    for (const [key, w] of watched) void checkWatched(key, w);
  }, Math.max(50, Math.floor(leaseMs / 3)));
  tick.unref();

  async function checkWatched(key: string, w: { kind: string; id: string; since: number }) {
    const k = kinds.get(w.kind)!;
    // A live owner ends its stream by its deadline; a watch older than the log's life is stale.
    if (Date.now() - w.since > WATCH_MAX_MS) return void watched.delete(key);
    try {
      const status = await k.log.status(w.id);
      if (status?.final) watched.delete(key);
      else if (!status || !status.ownerAlive) {
        watched.delete(key);
        await k.declareLost(w.id);
      }
    } catch (err) {
      deps.logger.warn({ err: String(err), stream: key }, 'could not check a watched stream');
    }
  }

  let sweepTimer: NodeJS.Timeout | undefined;

  async function sweep(): Promise<number> {
    let closed = 0;
    for (const [name, k] of kinds) {
      if (!k.spec.candidates) continue;
      for (const c of await k.spec.candidates()) {
        if (running.has(`${name}:${c.id}`)) continue;
        const status = await k.log.status(c.id);
        if (status?.final || status?.ownerAlive) continue;
        if (await k.declareLost(c.id, status ? undefined : { userId: c.userId, text: c.text })) closed++;
      }
    }
    return closed;
  }

  function define<Done, Failure>(spec: StreamKindSpec<Done, Failure>): StreamKind<Done, Failure> {
    if (kinds.has(spec.name)) throw new Error(`stream kind ${spec.name} is defined twice`);
    const log = deps.log(spec.name, spec.logTtlSeconds);

    // Closes a stream whose generating node is gone. Whoever wins the final state applies it.
    async function declareLost(id: string, known?: { userId: string; text: string }): Promise<Failure | null> {
      const read = known ? null : await log.read(id, 0);
      const userId = known?.userId ?? read?.userId;
      const text = known?.text ?? read?.text ?? '';
      if (!userId) return null;
      const failure = spec.failure(id, { code: 'answer_lost', message: 'The server generating this answer stopped; ask again (the call was not counted)', offset: text.length });
      if (!(await log.close(id, { state: 'failed', payload: failure }, userId))) return null;
      if (!(await spec.onLost(id, { userId, text }))) return null;
      deps.logger.warn({ stream: `${spec.name}:${id}` }, 'stream lost: its generating node stopped without finishing');
      spec.emit(userId, { type: 'error', id, payload: failure });
      return failure;
    }
    kinds.set(spec.name, { spec: spec as StreamKindSpec<unknown, unknown>, log, declareLost });

    const assertAccepting = () => {
      if (draining) throw unavailable('draining', 'This server is shutting down; reconnect and try again (another server will answer)');
    };

    async function run<T>(id: string, opts: { userId: string; maxSeconds: number }, body: (stream: RunningStream<Done, Failure>) => Promise<T>): Promise<T> {
      assertAccepting();
      const key = `${spec.name}:${id}`;
      const controller = new AbortController();
      let settle!: () => void;
      const entry: Running = { kind: spec.name, abort: controller, finished: new Promise<void>((r) => (settle = r)) };
      running.set(key, entry);
      const deadline = setTimeout(() => abort(key, 'timeout'), opts.maxSeconds * 1000);
      let offset = 0;
      let closed = false;
      const close = async (final: StreamFinal, event: StreamEvent<Done, Failure>, apply?: () => Promise<void>): Promise<boolean> => {
        if (closed) return false;
        closed = true;
        let won = true;
        try {
          won = await log.close(id, final, opts.userId);
        } catch (err) {
          // The store is unreachable (Redis down): this node is alive and its outcome stands; it is
          // delivered live, and the module's row is where a later reader finds it.
          deps.logger.warn({ err: String(err), stream: key }, 'stream final state not logged; delivered live only');
        }
        if (!won) return false;
        await apply?.().catch((err) => deps.logger.error({ err, stream: key }, 'stream outcome not applied'));
        spec.emit(opts.userId, event);
        return true;
      };
      const stream: RunningStream<Done, Failure> = {
        id,
        signal: controller.signal,
        abortCode: () => entry.code,
        offset: () => offset,
        append: (text) => {
          if (!text || closed) return;
          log.append(id, text);
          spec.emit(opts.userId, { type: 'delta', id, offset, text });
          offset += text.length;
        },
        finish: (done, apply) => close({ state: 'done', payload: done }, { type: 'done', id, payload: done }, apply),
        fail: (failure, apply) => close({ state: 'failed', payload: failure }, { type: 'error', id, payload: failure }, apply),
      };
      try {
        await log.start(id, opts.userId, deps.nodeId, leaseMs);
        return await body(stream);
      } finally {
        clearTimeout(deadline);
        running.delete(key);
        settle();
        // A body that ended without recording an outcome (a bug) is left to the lost path: its lease
        // lapses, and a reader or the sweep closes it through the module's onLost.
        if (!closed) deps.logger.error({ stream: key }, 'stream ended without an outcome; it will be closed as lost');
      }
    }

    async function complete(id: string, userId: string, text: string, done: Done): Promise<void> {
      log.append(id, text);
      await log.close(id, { state: 'done', payload: done }, userId).catch((err) => deps.logger.warn({ err: String(err), stream: `${spec.name}:${id}` }, 'stream not logged; delivered live only'));
      // After the caller has the id (the socket ack goes first).
      setImmediate(() => {
        spec.emit(userId, { type: 'delta', id, offset: 0, text });
        spec.emit(userId, { type: 'done', id, payload: done });
      });
    }

    async function resume(id: string, offset: number): Promise<ReadStream<Done, Failure> | null> {
      const read = await log.read(id, offset);
      if (!read) return null;
      const nextOffset = offset + read.text.length;
      if (read.final) {
        const done = read.final.state === 'done' ? (read.final.payload as Done) : null;
        return { text: read.text, nextOffset, state: read.final.state, done, failure: done ? null : (read.final.payload as Failure) };
      }
      if (!read.ownerAlive && !running.has(`${spec.name}:${id}`)) {
        const failure = await declareLost(id);
        if (failure) return { text: read.text, nextOffset, state: 'failed', done: null, failure };
        return resume(id, offset);
      }
      if (!running.has(`${spec.name}:${id}`)) watched.set(`${spec.name}:${id}`, { kind: spec.name, id, since: Date.now() });
      return { text: read.text, nextOffset, state: 'streaming', done: null, failure: null };
    }

    return {
      assertAccepting,
      run,
      complete,
      resume,
      declareLost: (id, lost) => declareLost(id, lost),
      cancel: (id) => deps.bus.publish(CANCEL_TOPIC, `${spec.name}:${id}`),
      runningCount: () => [...running.values()].filter((r) => r.kind === spec.name).length,
    };
  }

  async function drain(opts: { interruptAt: number; deadline: number }): Promise<void> {
    draining = true;
    const all = () => Promise.allSettled([...running.values()].map((r) => r.finished));
    await Promise.race([all(), sleep(opts.interruptAt - Date.now())]);
    if (running.size === 0) return;
    deps.logger.warn({ streams: running.size }, 'interrupting streams still running at shutdown');
    for (const key of running.keys()) abort(key, 'interrupted');
    await Promise.race([all(), sleep(opts.deadline - Date.now())]);
  }

  return {
    define,
    drain,
    sweep,
    startSweeping: () => {
      sweepTimer ??= setInterval(() => void sweep().catch((err) => deps.logger.warn({ err: String(err) }, 'stream sweep failed')), sweepMs);
      sweepTimer.unref();
    },
    stop: () => {
      clearInterval(tick);
      clearInterval(sweepTimer);
      watched.clear();
    },
    runningCount: () => running.size,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)).unref());
}
