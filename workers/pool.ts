// The one Piscina pool for CPU-bound work. Each task names its file and export per run, so one set
// of threads serves every task file. The queue bound and the per-task timeout are enforced here:
// Piscina's own `maxQueue` only counts tasks without an AbortSignal (tasks with one wait in a
// separate queue), and every task here carries one.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { AppError } from '../services/errors.ts';
import type { ImageInput, ImageResult } from './image.ts';
import { packTrack, type TrackInput, type TrackResult } from './geo.ts';
import type { TopKInput, TopKResult } from './vector.ts';

export type WorkerPoolOptions = {
  /** Threads. Default: os.availableParallelism(). */
  size?: number;
  /** Tasks allowed to wait for a free thread; one more is refused with WorkerQueueFullError. Default 256. */
  maxQueue?: number;
  /** Longest a caller waits for a task, queueing included; the thread is then terminated. Default 30 s. */
  taskTimeoutMs?: number;
  /** Errors no task owns (a thread dying between tasks). Default: a process warning. */
  onError?: (error: unknown) => void;
  /** The modules' declared tasks, which `run` accepts. */
  tasks?: WorkerTask<any, any>[];
};

export type RunOptions = {
  signal?: AbortSignal;
  /** Overrides the pool's taskTimeoutMs for this task. */
  timeoutMs?: number;
};

export type ImageRunOptions = RunOptions & {
  /**
   * Move `input.bytes` to the worker instead of copying it. The caller's array is detached
   * afterwards (length 0), so only set this when the bytes are not needed again. Views that do not
   * own their whole ArrayBuffer, or whose memory cannot be moved (Node's pooled small Buffers,
   * native addon output), are copied as usual.
   */
  transfer?: boolean;
};

export type WorkerPoolStats = { size: number; queueSize: number; utilization: number; completed: number; running: number };

// A module's own CPU-bound task: a worker file and the export to run. `I`/`O` only type the call.
export type WorkerTask<I, O> = { label: string; filename: string; name: string; __types?: (input: I) => O };

export function defineWorkerTask<I, O>(task: { label: string; file: URL; name: string }): WorkerTask<I, O> {
  return { label: task.label, filename: task.file.href, name: task.name };
}

export type WorkerPool = {
  /** A module's task, declared in its definition (workerTasks); refused when no module declared it. */
  run<I, O>(task: WorkerTask<I, O>, input: I, options?: RunOptions): Promise<O>;
  processImage(input: ImageInput, options?: ImageRunOptions): Promise<ImageResult>;
  analyseTrack(input: TrackInput, options?: RunOptions): Promise<TrackResult>;
  /** Exact cosine top-k; pass the matrix in a SharedArrayBuffer to avoid copying it per query. */
  topKCosine(input: TopKInput, options?: RunOptions): Promise<TopKResult>;
  stats(): WorkerPoolStats;
  /** Refuses new tasks, waits for every accepted task to settle, then stops the threads. */
  close(): Promise<void>;
};

// The pool's refusals are the server being busy, not a bug: a request that meets one is answered
// 503 with its code and when to try again (problem+json), not 500 internal_error.
export class WorkerQueueFullError extends AppError {
  constructor(message: string) {
    super(503, 'worker_queue_full', message, { extra: { retryAfter: 1 } });
    this.name = 'WorkerQueueFullError';
  }
}

export class WorkerTimeoutError extends AppError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(503, 'worker_timeout', message, { extra: { retryAfter: 5 } });
    this.name = 'WorkerTimeoutError';
    if (opts.cause !== undefined) this.cause = opts.cause;
  }
}

export class WorkerPoolClosedError extends AppError {
  constructor(message: string) {
    super(503, 'worker_pool_closed', message, { extra: { retryAfter: 1 } });
    this.name = 'WorkerPoolClosedError';
  }
}

const TASKS = {
  processImage: { label: 'image', filename: new URL('./image.ts', import.meta.url).href, name: 'processImageTask' },
  analyseTrack: { label: 'track analysis', filename: new URL('./geo.ts', import.meta.url).href, name: 'analyseTrack' },
  topKCosine: { label: 'vector search', filename: new URL('./vector.ts', import.meta.url).href, name: 'topKCosine' },
} as const;

type Task = (typeof TASKS)[keyof typeof TASKS];

const DEFAULT_MAX_QUEUE = 256;
const DEFAULT_TASK_TIMEOUT_MS = 30_000;

export function createWorkerPool(opts: WorkerPoolOptions = {}): WorkerPool {
  const size = opts.size ?? availableParallelism();
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const taskTimeoutMs = opts.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
  if (!(Number.isInteger(maxQueue) && maxQueue >= 0)) throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);
  if (!(taskTimeoutMs > 0)) throw new RangeError(`taskTimeoutMs must be positive, got ${taskTimeoutMs}`);
  // Fixed size and kept warm: spawning a thread (and loading sharp into it) costs more than most tasks.
  const piscina = new Piscina({ minThreads: size, maxThreads: size, idleTimeout: Infinity });
  // An EventEmitter without an 'error' listener would turn a stray worker error into a process crash.
  piscina.on('error', opts.onError ?? ((error: unknown) => process.emitWarning(`worker pool: ${String(error)}`)));
  const inFlight = new Set<Promise<unknown>>();
  let closing: Promise<void> | null = null;

  function admit(): void {
    if (closing) throw new WorkerPoolClosedError('The worker pool is shutting down.');
    if (inFlight.size >= size + maxQueue) throw new WorkerQueueFullError(`The worker queue is full (${maxQueue} waiting).`);
  }

  async function run<R>(task: { label: string; filename: string; name: string }, input: unknown, options: RunOptions, transferList?: ArrayBuffer[]): Promise<R> {
    admit();
    const { signal, timeoutMs = taskTimeoutMs } = options;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const pending = piscina.run(input, { filename: task.filename, name: task.name, signal: combined, transferList });
    inFlight.add(pending);
    try {
      return await pending;
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) {
        throw new WorkerTimeoutError(`The ${task.label} task took longer than ${timeoutMs} ms.`, { cause: err });
      }
      throw err;
    } finally {
      inFlight.delete(pending);
    }
  }

  const declared = new Set((opts.tasks ?? []).map((t) => `${t.filename}#${t.name}`));

  return {
    async run<I, O>(task: WorkerTask<I, O>, input: I, options: RunOptions = {}): Promise<O> {
      if (!declared.has(`${task.filename}#${task.name}`)) throw new Error(`worker task ${task.label} (${task.name}) is not declared by any module`);
      return run<O>(task, input, options);
    },
    async processImage(input, options = {}) {
      admit(); // before detaching, so a refused caller keeps its bytes
      const moved = options.transfer ? detachForTransfer(input.bytes) : null;
      const payload = moved ? { ...input, bytes: moved } : input;
      return run<ImageResult>(TASKS.processImage, payload, options, moved ? [moved.buffer as ArrayBuffer] : undefined);
    },
    async analyseTrack(input, options = {}) {
      // Thousands of fix objects cost milliseconds to clone each way; one packed buffer is moved.
      if (!Array.isArray(input.points)) return run<TrackResult>(TASKS.analyseTrack, input, options);
      const packed = packTrack(input.points);
      return run<TrackResult>(TASKS.analyseTrack, { ...input, points: undefined, packed }, options, [packed.buffer as ArrayBuffer]);
    },
    async topKCosine(input, options = {}) {
      return run<TopKResult>(TASKS.topKCosine, input, options);
    },
    stats() {
      const queueSize = piscina.queueSize;
      return { size, queueSize, utilization: piscina.utilization, completed: piscina.completed, running: Math.max(0, inFlight.size - queueSize) };
    },
    close() {
      closing ??= drainThenDestroy(piscina, inFlight);
      return closing;
    },
  };
}

async function drainThenDestroy(piscina: Piscina, inFlight: Set<Promise<unknown>>): Promise<void> {
  // Every task carries a timeout, so this wait is bounded by taskTimeoutMs.
  await Promise.allSettled([...inFlight]);
  await piscina.destroy();
}

/**
 * Returns a view over the same memory that is certain to be transferable, or null to copy instead.
 * The probe is structuredClone's own transfer, so a buffer postMessage would refuse (pooled or
 * native memory) is found here rather than as a throw inside Piscina's dispatch.
 */
function detachForTransfer(bytes: Uint8Array): Uint8Array | null {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return null;
  try {
    return structuredClone(bytes, { transfer: [buffer] });
  } catch {
    return null;
  }
}
