// Prometheus series for the LLM gateway, registered on the node's registry: calls by outcome,
// tokens and cost per module and model, retries, fallbacks, and each bulkhead's occupancy.
import client from 'prom-client';
import type { BulkheadStats } from './bulkhead.ts';

export function createLlmMetrics(registry: client.Registry) {
  const calls = new client.Counter({
    name: 'llm_calls_total',
    help: 'LLM gateway calls by module, operation, model and outcome',
    labelNames: ['module', 'op', 'model', 'outcome'] as const,
    registers: [registry],
  });
  const tokens = new client.Counter({
    name: 'llm_tokens_total',
    help: 'Tokens sent (prompt) and received (completion) by module and model',
    labelNames: ['module', 'model', 'direction'] as const,
    registers: [registry],
  });
  const cost = new client.Counter({
    name: 'llm_cost_usd_total',
    help: 'Estimated provider cost in USD by module and model',
    labelNames: ['module', 'model'] as const,
    registers: [registry],
  });
  const retries = new client.Counter({
    name: 'llm_retries_total',
    help: 'Upstream attempts retried after a retryable failure, by model and failure kind',
    labelNames: ['model', 'kind'] as const,
    registers: [registry],
  });
  const fallbacks = new client.Counter({
    name: 'llm_fallbacks_total',
    help: 'Chat calls answered by the fallback model instead of the primary',
    labelNames: ['module', 'primary', 'fallback'] as const,
    registers: [registry],
  });
  const circuitOpened = new client.Counter({
    name: 'llm_circuit_opened_total',
    help: 'Times a model circuit opened after consecutive failures',
    labelNames: ['model'] as const,
    registers: [registry],
  });

  // Read when scraped, so the bulkheads need no metrics code of their own.
  function watchBulkheads(stats: () => Record<string, BulkheadStats>): void {
    const gauge = (name: string, help: string, pick: (s: BulkheadStats) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['module'] as const,
        registers: [registry],
        collect(this: client.Gauge<'module'>) {
          for (const [module, s] of Object.entries(stats())) this.set({ module }, pick(s));
        },
      });
    gauge('llm_bulkhead_active', 'LLM calls running, by module', (s) => s.active);
    gauge('llm_bulkhead_queued', 'LLM calls waiting for a slot, by module', (s) => s.queued);
  }

  return { calls, tokens, cost, retries, fallbacks, circuitOpened, watchBulkheads };
}

export type LlmMetrics = ReturnType<typeof createLlmMetrics>;
