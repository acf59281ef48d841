// Prometheus metrics of one node. A registry per node (not prom-client's global one), so tests
// can run several nodes in one process.
import client from 'prom-client';

export type WorkerPoolStats = { size: number; queueSize: number; utilization: number; completed: number; running: number };

export function createMetrics(opts: { nodeId: string }) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ node: opts.nodeId });
  // Includes nodejs_eventloop_lag_{p50,p99,max}_seconds: the event loop's lag is a first-class signal.
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const socketConnections = new client.Gauge({
    name: 'socket_connections',
    help: 'Open Socket.IO connections on this node by namespace',
    labelNames: ['namespace'] as const,
    registers: [registry],
  });

  const socketEvents = new client.Counter({
    name: 'socket_events_total',
    help: 'Client events handled, by namespace, event and outcome',
    labelNames: ['namespace', 'event', 'outcome'] as const,
    registers: [registry],
  });

  const rateLimited = new client.Counter({
    name: 'rate_limited_total',
    help: 'Requests or socket events refused by a rate limit',
    labelNames: ['scope'] as const,
    registers: [registry],
  });

  const cronRuns = new client.Counter({
    name: 'cron_runs_total',
    help: 'Cron job runs by job and outcome',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });

  // The pool's figures are read when scraped, not pushed, so the pool needs no metrics code.
  function watchWorkerPool(stats: () => WorkerPoolStats): void {
    const read = (pick: (s: WorkerPoolStats) => number) =>
      function (this: client.Gauge) {
        this.set(pick(stats()));
      };
    new client.Gauge({ name: 'worker_pool_queue_size', help: 'Tasks waiting for a worker', registers: [registry], collect: read((s) => s.queueSize) });
    new client.Gauge({ name: 'worker_pool_running', help: 'Tasks running in workers', registers: [registry], collect: read((s) => s.running) });
    new client.Gauge({ name: 'worker_pool_size', help: 'Worker threads', registers: [registry], collect: read((s) => s.size) });
    new client.Gauge({ name: 'worker_pool_utilization', help: 'Share of pool capacity in use (0-1)', registers: [registry], collect: read((s) => s.utilization) });
    new client.Gauge({ name: 'worker_pool_completed', help: 'Tasks completed since start', registers: [registry], collect: read((s) => s.completed) });
  }

  return { registry, httpDuration, socketConnections, socketEvents, rateLimited, cronRuns, watchWorkerPool };
}

export type Metrics = ReturnType<typeof createMetrics>;
