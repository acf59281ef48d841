// Builds the LLM gateway from configuration: the real OpenAI(-compatible) client when an API key
// is set, otherwise the offline driver (config.ts refuses that in production).
import type { Registry } from 'prom-client';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createOfflineProvider } from '../integrations/llm/offline.ts';
import { createOpenAiProvider } from '../integrations/llm/openai.ts';
import { DEFAULT_MODULE_BULKHEAD, type BulkheadLimits } from '../services/llm/bulkhead.ts';
import { createLlmGateway, type LlmGateway } from '../services/llm/gateway.ts';
import { createLlmMetrics } from '../services/llm/metrics.ts';
import { DEFAULT_PRICES } from '../services/llm/pricing.ts';

export function createConfiguredLlm(config: Config, deps: { logger: Logger; registry: Registry; bulkheads: Record<string, BulkheadLimits> }): LlmGateway {
  const provider = config.llmOffline || !config.OPENAI_API_KEY
    ? createOfflineProvider({ dimensions: config.LLM_EMBEDDING_DIMENSIONS })
    : createOpenAiProvider({
        apiKey: config.OPENAI_API_KEY,
        baseUrl: config.OPENAI_BASE_URL,
        timeoutMs: config.LLM_TIMEOUT_MS,
        imageTimeoutMs: config.LLM_IMAGE_TIMEOUT_MS,
      });
  if (provider.name === 'offline') {
    deps.logger.warn('LLM calls run on the OFFLINE driver: quoted context, hashed n-gram embeddings (set OPENAI_API_KEY for a real model)');
  }
  return createLlmGateway({
    provider,
    defaultModel: config.LLM_DEFAULT_MODEL,
    fallbackModel: config.LLM_FALLBACK_MODEL,
    embeddingModel: config.LLM_EMBEDDING_MODEL,
    embeddingDimensions: config.LLM_EMBEDDING_DIMENSIONS,
    speechModel: config.LLM_SPEECH_MODEL,
    defaultVoice: config.LLM_SPEECH_VOICE,
    imageModel: config.LLM_IMAGE_MODEL,
    priceTable: { ...DEFAULT_PRICES, ...config.LLM_PRICES_JSON },
    bulkheads: { ...deps.bulkheads, ...config.LLM_BULKHEADS_JSON },
    defaultBulkhead: DEFAULT_MODULE_BULKHEAD,
    queueTimeoutMs: config.LLM_QUEUE_TIMEOUT_MS,
    maxPromptTokens: config.LLM_MAX_PROMPT_TOKENS,
    defaultMaxTokens: config.LLM_MAX_COMPLETION_TOKENS,
    embedBatchSize: config.LLM_EMBED_BATCH_SIZE,
    retry: { retries: config.LLM_RETRIES, baseDelayMs: config.LLM_RETRY_BASE_MS },
    circuit: { failureThreshold: config.LLM_CIRCUIT_FAILURES, cooldownMs: config.LLM_CIRCUIT_COOLDOWN_MS },
    logger: deps.logger.child({ component: 'llm' }),
    metrics: createLlmMetrics(deps.registry),
  });
}
