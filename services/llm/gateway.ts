// The one way app modules reach a language model. Each module gets a handle —
// `gateway.forModule(name)`, handed to it as `platform.llm` — whose calls share one provider but not one queue:
//
// - Bulkhead per module: at most N calls in flight, a bounded queue, then a typed 503 (llm_busy).
// - Prompt limit: counted in tokens (gpt-tokenizer) before anything is sent → 400 prompt_too_long.
// - Retries: exponential backoff (base, 2×base, 4×base with ±20 % jitter; 1 s → 2 s → 4 s by
//   default, at most `retries`; the shared policy of integrations/retry.ts), only for retryable
//   failures (429, 5xx, network, timeout), and for a stream only until its first token has
//   reached the caller — after that a retry would make the user read the start of the answer
//   twice, so the call fails as llm_interrupted.
// - Fallback: a circuit per chat model opens after `failureThreshold` consecutive retryable
//   failures and stays open for `cooldownMs`; while it is open calls go straight to the fallback
//   model (with the full retry policy), or fail fast without one. When the primary exhausts its
//   retries within one call, the fallback gets one attempt in that same call before giving up.
// - Cancellation: the caller's AbortSignal — or breaking out of the stream — aborts the upstream
//   HTTP request, so a user who left stops costing tokens.
// - Usage and cost in USD on every result, from the price table; counted locally when a
//   provider reports none (`usageEstimated`). The offline driver costs nothing.
import type { Logger } from 'pino';
import {
  CHAT_IMAGE_TYPES, LlmProviderError, SPEECH_FORMATS,
  type ChatContentPart, type ChatMessage, type GeneratedImage, type LlmProvider, type SpeechFormat, type TokenUsage,
} from '../../integrations/llm/index.ts';
import { OFFLINE_CHAT_MODEL } from '../../integrations/llm/offline.ts';
import { RetryCancelledError, retryWithBackoff, type Backoff } from '../../integrations/retry.ts';
import { createBulkhead, type Bulkhead, type BulkheadLimits, type BulkheadStats } from './bulkhead.ts';
import { createCircuit, type Circuit, type CircuitState } from './circuit.ts';
import {
  inputTooLong, invalidInput, llmCancelled, llmInterrupted, llmRejected, llmUnavailable, promptTooLong, type PartialOutcome,
} from './errors.ts';
import type { LlmMetrics } from './metrics.ts';
import { createPricing, type CostQuantities, type PriceTable } from './pricing.ts';
import { countChatTokens, countTextTokens } from './tokens.ts';

export type LlmGatewayOptions = {
  provider: LlmProvider;
  defaultModel: string;
  fallbackModel?: string;
  embeddingModel: string;
  speechModel: string;
  imageModel: string;
  priceTable: PriceTable;
  // Limits per module name; modules not listed get `defaultBulkhead`.
  bulkheads: Record<string, BulkheadLimits>;
  defaultBulkhead?: BulkheadLimits;
  queueTimeoutMs?: number;
  maxPromptTokens?: number;
  // Sent as max_tokens when a call does not say: a runaway generation stays bounded in cost.
  defaultMaxTokens?: number;
  embedBatchSize?: number;
  embeddingDimensions?: number;
  // text-embedding-3-*: 8191 tokens per input.
  maxEmbeddingInputTokens?: number;
  defaultVoice?: string;
  retry?: { retries?: number; baseDelayMs?: number; maxDelayMs?: number };
  circuit?: { failureThreshold?: number; cooldownMs?: number };
  logger: Logger;
  metrics?: LlmMetrics;
  now?: () => number;
  random?: () => number;
};

export type ChatCall = {
  messages: ChatMessage[];
  model?: string;
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  // A module may hold a call to a smaller (or larger) prompt budget than the gateway's default.
  maxPromptTokens?: number;
};

export type ChatOutcome = {
  text: string;
  usage: TokenUsage;
  // True when the provider sent no usage and the tokens were counted here with gpt-tokenizer.
  usageEstimated: boolean;
  costUsd: number;
  // The model that answered: the fallback's name when the fallback answered.
  model: string;
  provider: string;
  finishReason?: string;
  attempts: number;
  fallback: boolean;
};

export type ChatStream = {
  // Text deltas as they arrive. One consumer; breaking out of the loop cancels the call.
  stream: AsyncIterable<string>;
  // Settles when the call ends: the whole text with usage and cost, or the typed error.
  result: Promise<ChatOutcome>;
};

export type EmbedOutcome = { vectors: number[][]; usage: { promptTokens: number }; costUsd: number; model: string; provider: string };
export type SpeechOutcome = { audio: Buffer; contentType: string; format: SpeechFormat; costUsd: number; model: string; provider: string };
export type ImageOutcome = { images: GeneratedImage[]; costUsd: number; model: string; provider: string };

export type LlmModule = {
  readonly name: string;
  streamChat: (call: ChatCall) => ChatStream;
  chat: (call: ChatCall) => Promise<ChatOutcome>;
  embed: (texts: string[], opts?: { model?: string; dimensions?: number; signal?: AbortSignal }) => Promise<EmbedOutcome>;
  speech: (req: { input: string; voice?: string; format?: SpeechFormat; speed?: number; model?: string; signal?: AbortSignal }) => Promise<SpeechOutcome>;
  generateImage: (req: { prompt: string; size?: string; n?: number; model?: string; signal?: AbortSignal }) => Promise<ImageOutcome>;
};

export type LlmGateway = {
  readonly provider: string;
  readonly offline: boolean;
  forModule: (name: string) => LlmModule;
  stats: () => { bulkheads: Record<string, BulkheadStats>; circuits: Record<string, CircuitState> };
};

const SPEECH_MAX_CHARACTERS = 4096;
const IMAGE_PROMPT_MAX_CHARACTERS = 32_000;
const IMAGE_MAX_N = 10;
// Vision input per chat call: OpenAI takes more, but a few screenshots is what our modules send,
// and each image inlines as base64 in one JSON body.
const CHAT_MAX_IMAGES = 8;
const CHAT_MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const IMAGE_DETAILS = ['low', 'high', 'auto'];

export function createLlmGateway(opts: LlmGatewayOptions): LlmGateway {
  const { provider, logger, metrics } = opts;
  const retries = opts.retry?.retries ?? 3;
  const baseDelayMs = opts.retry?.baseDelayMs ?? 1000;
  const backoff: Backoff = {
    baseDelayMs,
    // A provider's retry-after is honoured, but never beyond the last step of our own schedule.
    maxDelayMs: opts.retry?.maxDelayMs ?? baseDelayMs * 2 ** Math.max(retries - 1, 0) * 2,
    jitter: 0.2,
    random: opts.random,
  };
  const maxPromptTokens = opts.maxPromptTokens ?? 16_000;
  const batchSize = opts.embedBatchSize ?? 100;
  const maxEmbeddingInputTokens = opts.maxEmbeddingInputTokens ?? 8191;
  const pricing = createPricing(opts.priceTable);
  const offline = provider.name === 'offline';

  const bulkheads = new Map<string, Bulkhead>();
  const circuits = new Map<string, Circuit>();
  const modules = new Map<string, LlmModule>();
  const unpriced = new Set<string>();

  metrics?.watchBulkheads(() => Object.fromEntries([...bulkheads].map(([name, b]) => [name, b.stats()])));

  function circuitFor(model: string): Circuit {
    let c = circuits.get(model);
    if (!c) {
      c = createCircuit({
        failureThreshold: opts.circuit?.failureThreshold ?? 5,
        cooldownMs: opts.circuit?.cooldownMs ?? 30_000,
        now: opts.now,
        onOpen: () => {
          metrics?.circuitOpened.inc({ model });
          logger.warn({ model, cooldownMs: opts.circuit?.cooldownMs ?? 30_000 }, 'LLM circuit opened: model failing, calls skip it for the cool-down');
        },
      });
      circuits.set(model, c);
    }
    return c;
  }

  function cost(module: string, model: string, q: CostQuantities): number {
    if (offline) return 0;
    if (!pricing.priceOf(model) && !unpriced.has(model)) {
      unpriced.add(model);
      logger.warn({ model }, 'no price for this LLM model (LLM_PRICES_JSON): its cost is reported as 0');
    }
    const usd = pricing.costUsd(model, q);
    metrics?.cost.inc({ module, model }, usd);
    return usd;
  }

  type Plan = {
    module: string;
    op: string;
    models: string[];
    circuits: boolean;
    signal: AbortSignal;
    // Has any of this call's output already reached the caller? Then it cannot be retried.
    delivered?: () => boolean;
    partial?: (model: string) => PartialOutcome;
  };

  // Runs `attempt` under the retry, circuit and fallback policy; every failure leaves as an LlmError.
  async function resilient<T>(plan: Plan, attempt: (model: string, signal: AbortSignal) => Promise<T>): Promise<{ value: T; model: string; attempts: number; fallback: boolean }> {
    const models = [...new Set(plan.models)];
    let attempts = 0;
    let triedAny = false;
    let lastError: LlmProviderError | undefined;

    // Turns a failed attempt into the call's final LlmError, or returns the provider error itself
    // when it may be retried (or handed to the next model): only those stay LlmProviderErrors.
    function settle(raw: unknown, model: string, circuit: Circuit | undefined): unknown {
      if (!(raw instanceof LlmProviderError)) {
        circuit?.neutral();
        return raw;
      }
      if (plan.signal.aborted || raw.kind === 'aborted') {
        circuit?.neutral();
        return llmCancelled(plan.partial?.(model));
      }
      if (!raw.retryable) {
        circuit?.neutral();
        const log = { module: plan.module, op: plan.op, model, kind: raw.kind, status: raw.status, code: raw.code, attempt: attempts };
        if (raw.kind === 'bad_request' || raw.kind === 'content_filtered') {
          logger.warn(log, 'LLM provider rejected the request');
          return llmRejected(raw, raw.kind === 'content_filtered');
        }
        // auth, not_found, quota: configuration or account trouble no retry or fallback fixes.
        logger.error(log, 'LLM provider refused the call: check the API key, model names and account quota');
        return llmUnavailable(raw);
      }
      circuit?.failure();
      lastError = raw;
      if (plan.delivered?.()) {
        logger.warn({ module: plan.module, op: plan.op, model, kind: raw.kind, status: raw.status, code: raw.code, attempt: attempts }, 'LLM stream failed after its first token: not retried');
        return llmInterrupted(plan.partial!(model), raw);
      }
      return raw;
    }

    for (const [index, model] of models.entries()) {
      const circuit = plan.circuits ? circuitFor(model) : undefined;
      if (circuit && !circuit.allow()) continue;
      // The fallback gets one attempt when the primary has used up this call's retries.
      const schedule = { ...backoff, retries: triedAny ? 0 : retries };
      triedAny = true;
      let value: T;
      try {
        value = await retryWithBackoff(
          schedule,
          async () => {
            attempts++;
            try {
              return await attempt(model, plan.signal);
            } catch (raw) {
              throw settle(raw, model, circuit);
            }
          },
          {
            signal: plan.signal,
            // An open circuit ends this model's retries: the call moves on to the fallback.
            retryable: (err) => err instanceof LlmProviderError && circuit?.state() !== 'open',
            retryAfterMs: (err) => (err as LlmProviderError).retryAfterMs,
            onFailure: (err, _n, willRetry) => {
              if (!(err instanceof LlmProviderError)) return;
              logger.warn({ module: plan.module, op: plan.op, model, kind: err.kind, status: err.status, code: err.code, attempt: attempts, willRetry }, 'LLM call failed');
              if (willRetry) metrics?.retries.inc({ model, kind: err.kind });
            },
          },
        );
      } catch (err) {
        if (err instanceof RetryCancelledError || (err instanceof LlmProviderError && plan.signal.aborted)) {
          circuit?.neutral();
          throw llmCancelled(plan.partial?.(model));
        }
        // Retries used up, or the circuit opened: the next model, if any.
        if (err instanceof LlmProviderError) continue;
        throw err;
      }
      circuit?.success();
      if (index > 0) {
        metrics?.fallbacks.inc({ module: plan.module, primary: models[0], fallback: model });
        logger.warn({ module: plan.module, primary: models[0], fallback: model }, 'LLM call answered by the fallback model');
      }
      return { value, model, attempts, fallback: index > 0 };
    }
    throw llmUnavailable(lastError);
  }

  function validateChat(call: ChatCall): void {
    if (!Array.isArray(call.messages) || call.messages.length === 0) throw invalidInput('messages', 'at least one message is required');
    call.messages.forEach((m, i) => {
      if (!['system', 'user', 'assistant'].includes(m?.role)) throw invalidInput(`messages[${i}].role`, 'must be system, user or assistant');
      if (typeof m.content === 'string') return;
      if (!Array.isArray(m.content) || m.content.length === 0) throw invalidInput(`messages[${i}].content`, 'must be a string or a non-empty array of parts');
      m.content.forEach((p, j) => validatePart(p, m.role, `messages[${i}].content[${j}]`));
    });
    const images = call.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content.filter((p) => p.type === 'image')));
    if (images.length > CHAT_MAX_IMAGES) throw inputTooLong('messages', images.length, CHAT_MAX_IMAGES, 'images');
    const imageBytes = images.reduce((n, p) => n + p.data.byteLength, 0);
    if (imageBytes > CHAT_MAX_IMAGE_BYTES) throw inputTooLong('messages', imageBytes, CHAT_MAX_IMAGE_BYTES, 'bytes of images');
    if (call.maxTokens !== undefined && !(Number.isInteger(call.maxTokens) && call.maxTokens > 0)) throw invalidInput('maxTokens', 'must be a positive integer');
    if (call.temperature !== undefined && !(call.temperature >= 0 && call.temperature <= 2)) throw invalidInput('temperature', 'must be between 0 and 2');
  }

  function validatePart(p: ChatContentPart, role: string, field: string): void {
    if (p?.type === 'text') {
      if (typeof p.text !== 'string') throw invalidInput(`${field}.text`, 'must be a string');
      return;
    }
    if (p?.type !== 'image') throw invalidInput(`${field}.type`, 'must be text or image');
    if (role !== 'user') throw invalidInput(field, 'images are allowed only in user messages');
    if (!(p.data instanceof Uint8Array) || p.data.byteLength === 0) throw invalidInput(`${field}.data`, 'must be non-empty image bytes');
    if (!CHAT_IMAGE_TYPES.includes(p.mimeType)) throw invalidInput(`${field}.mimeType`, `must be one of ${CHAT_IMAGE_TYPES.join(', ')}`);
    if (p.detail !== undefined && !IMAGE_DETAILS.includes(p.detail)) throw invalidInput(`${field}.detail`, `must be one of ${IMAGE_DETAILS.join(', ')}`);
  }

  // Validates and counts the prompt: nothing is sent for a prompt over its limit.
  function prepareChat(call: ChatCall): { promptTokens: number; primary: string } {
    validateChat(call);
    const limit = call.maxPromptTokens ?? maxPromptTokens;
    const promptTokens = countChatTokens(call.messages);
    if (promptTokens > limit) throw promptTooLong(promptTokens, limit);
    return { promptTokens, primary: call.model ?? opts.defaultModel };
  }

  function chatModels(primary: string): string[] {
    return opts.fallbackModel ? [primary, opts.fallbackModel] : [primary];
  }

  function bulkheadFor(module: string): Bulkhead {
    let b = bulkheads.get(module);
    if (!b) {
      const limits = opts.bulkheads[module] ?? opts.defaultBulkhead ?? { concurrency: 5, queue: 10 };
      b = createBulkhead({ ...limits, module, queueTimeoutMs: opts.queueTimeoutMs ?? 10_000 });
      bulkheads.set(module, b);
    }
    return b;
  }

  function outcomeLabel(err: unknown): string {
    return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'error';
  }

  function createModule(module: string): LlmModule {
    const bulkhead = bulkheadFor(module);

    // Validation (before taking a slot: a bad call never waits in the queue), then the bulkhead
    // slot, with metrics and a debug line around the whole operation.
    async function run<P, T>(op: string, signal: AbortSignal, model: () => string, validate: () => P, body: (prepared: P) => Promise<T>): Promise<T> {
      const started = performance.now();
      let outcome = 'ok';
      try {
        const prepared = validate();
        const release = await bulkhead.acquire(signal);
        try {
          return await body(prepared);
        } finally {
          release();
        }
      } catch (err) {
        outcome = outcomeLabel(err);
        throw err;
      } finally {
        metrics?.calls.inc({ module, op, model: model(), outcome });
        logger.debug({ module, op, model: model(), outcome, ms: Math.round(performance.now() - started) }, 'LLM call');
      }
    }

    function finishChat(requested: string, providerName: string, text: string, promptTokens: number, usage: TokenUsage | undefined): Omit<ChatOutcome, 'attempts' | 'fallback' | 'finishReason'> {
      // The offline driver answers every chat itself: naming the configured model would claim a
      // model that never ran.
      const model = offline ? OFFLINE_CHAT_MODEL : requested;
      const counted = usage ?? { promptTokens, completionTokens: countTextTokens(text) };
      metrics?.tokens.inc({ module, model, direction: 'prompt' }, counted.promptTokens);
      metrics?.tokens.inc({ module, model, direction: 'completion' }, counted.completionTokens);
      return { text, usage: counted, usageEstimated: !usage, costUsd: cost(module, model, counted), model, provider: providerName };
    }

    function partialOf(requested: string, promptTokens: number, text: string): PartialOutcome {
      const { usage, costUsd, model } = finishChat(requested, provider.name, text, promptTokens, undefined);
      return { text, usage, costUsd, model, provider: provider.name };
    }

    return {
      name: module,

      streamChat(call) {
        const controller = linkedController(call.signal);
        const deltas = createDeltaStream(() => controller.abort());
        let model = call.model ?? opts.defaultModel;
        let text = '';
        const result = run('stream', controller.signal, () => model, () => prepareChat(call), async ({ promptTokens, primary }) => {
          let usage: TokenUsage | undefined;
          const r = await resilient(
            {
              module, op: 'stream', models: chatModels(primary), circuits: true, signal: controller.signal,
              delivered: () => text.length > 0,
              partial: (m) => partialOf(m, promptTokens, text),
            },
            async (m, signal) => {
              model = m;
              usage = undefined;
              for await (const ev of provider.streamChat({ model: m, messages: call.messages, maxTokens: call.maxTokens ?? opts.defaultMaxTokens, temperature: call.temperature, signal })) {
                if (ev.type === 'usage') usage = ev.usage;
                else if (ev.text) {
                  text += ev.text;
                  deltas.push(ev.text);
                }
              }
            },
          );
          return { ...finishChat(r.model, provider.name, text, promptTokens, usage), attempts: r.attempts, fallback: r.fallback };
        });
        result.then(() => deltas.end(), (err) => deltas.fail(err));
        return { stream: deltas, result };
      },

      chat(call) {
        const controller = linkedController(call.signal);
        let model = call.model ?? opts.defaultModel;
        return run('chat', controller.signal, () => model, () => prepareChat(call), async ({ promptTokens, primary }) => {
          const r = await resilient({ module, op: 'chat', models: chatModels(primary), circuits: true, signal: controller.signal }, (m, signal) => {
            model = m;
            return provider.chat({ model: m, messages: call.messages, maxTokens: call.maxTokens ?? opts.defaultMaxTokens, temperature: call.temperature, signal });
          });
          return {
            ...finishChat(r.model, r.value.provider, r.value.text, promptTokens, r.value.usage),
            finishReason: r.value.finishReason,
            attempts: r.attempts,
            fallback: r.fallback,
          };
        });
      },

      embed(texts, o = {}) {
        const model = o.model ?? opts.embeddingModel;
        const controller = linkedController(o.signal);
        const validate = () => {
          if (!Array.isArray(texts)) throw invalidInput('texts', 'must be an array of strings');
          texts.forEach((t, i) => {
            if (typeof t !== 'string' || t.trim() === '') throw invalidInput(`texts[${i}]`, 'must be a non-empty string');
            // Cheap bound first: a token is at least one UTF-8 byte.
            if (Buffer.byteLength(t) > maxEmbeddingInputTokens) {
              const tokens = countTextTokens(t);
              if (tokens > maxEmbeddingInputTokens) throw inputTooLong(`texts[${i}]`, tokens, maxEmbeddingInputTokens, 'tokens');
            }
          });
        };
        return run('embed', controller.signal, () => model, validate, async () => {
          const vectors: number[][] = [];
          let promptTokens = 0;
          let providerName = provider.name;
          for (let start = 0; start < texts.length; start += batchSize) {
            const batch = texts.slice(start, start + batchSize);
            const r = await resilient({ module, op: 'embed', models: [model], circuits: false, signal: controller.signal }, (m, signal) =>
              provider.embed({ model: m, input: batch, dimensions: o.dimensions ?? opts.embeddingDimensions, signal }),
            );
            vectors.push(...r.value.vectors);
            promptTokens += r.value.usage?.promptTokens ?? batch.reduce((n, t) => n + countTextTokens(t), 0);
            providerName = r.value.provider;
          }
          metrics?.tokens.inc({ module, model, direction: 'prompt' }, promptTokens);
          return { vectors, usage: { promptTokens }, costUsd: cost(module, model, { promptTokens }), model, provider: providerName };
        });
      },

      speech(req) {
        const model = req.model ?? opts.speechModel;
        const controller = linkedController(req.signal);
        const validate = () => {
          if (typeof req.input !== 'string' || req.input.trim() === '') throw invalidInput('input', 'must be a non-empty string');
          if (req.input.length > SPEECH_MAX_CHARACTERS) throw inputTooLong('input', req.input.length, SPEECH_MAX_CHARACTERS, 'characters');
          const format = req.format ?? 'mp3';
          if (!SPEECH_FORMATS.includes(format)) throw invalidInput('format', `must be one of ${SPEECH_FORMATS.join(', ')}`);
          if (req.speed !== undefined && !(req.speed >= 0.25 && req.speed <= 4)) throw invalidInput('speed', 'must be between 0.25 and 4');
          return { format, voice: req.voice ?? opts.defaultVoice ?? 'alloy' };
        };
        return run('speech', controller.signal, () => model, validate, async ({ format, voice }) => {
          const r = await resilient({ module, op: 'speech', models: [model], circuits: false, signal: controller.signal }, (m, signal) =>
            provider.speech({ model: m, voice, input: req.input, format, speed: req.speed, signal }),
          );
          const { audio, contentType, format: actual, provider: providerName } = r.value;
          return { audio, contentType, format: actual, costUsd: cost(module, model, { characters: req.input.length }), model, provider: providerName };
        });
      },

      generateImage(req) {
        const model = req.model ?? opts.imageModel;
        const controller = linkedController(req.signal);
        const validate = () => {
          if (typeof req.prompt !== 'string' || req.prompt.trim() === '') throw invalidInput('prompt', 'must be a non-empty string');
          if (req.prompt.length > IMAGE_PROMPT_MAX_CHARACTERS) throw inputTooLong('prompt', req.prompt.length, IMAGE_PROMPT_MAX_CHARACTERS, 'characters');
          const n = req.n ?? 1;
          if (!Number.isInteger(n) || n < 1 || n > IMAGE_MAX_N) throw invalidInput('n', `must be an integer from 1 to ${IMAGE_MAX_N}`);
          const size = req.size ?? '1024x1024';
          if (!/^(\d{2,5}x\d{2,5}|auto)$/.test(size)) throw invalidInput('size', 'must be WIDTHxHEIGHT (e.g. 1024x1024) or auto');
          return { n, size };
        };
        return run('image', controller.signal, () => model, validate, async ({ n, size }) => {
          const r = await resilient({ module, op: 'image', models: [model], circuits: false, signal: controller.signal }, (m, signal) =>
            provider.generateImage({ model: m, prompt: req.prompt, size, n, signal }),
          );
          const { images, usage, provider: providerName } = r.value;
          // Token-priced image models report usage; per-image models are priced by count.
          const quantities: CostQuantities = usage ? { promptTokens: usage.promptTokens, completionTokens: usage.completionTokens } : { images: images.length };
          return { images, costUsd: cost(module, model, quantities), model, provider: providerName };
        });
      },
    };
  }

  return {
    provider: provider.name,
    offline,
    forModule(name) {
      let m = modules.get(name);
      if (!m) {
        m = createModule(name);
        modules.set(name, m);
      }
      return m;
    },
    stats: () => ({
      bulkheads: Object.fromEntries([...bulkheads].map(([name, b]) => [name, b.stats()])),
      circuits: Object.fromEntries([...circuits].map(([name, c]) => [name, c.state()])),
    }),
  };
}

// Our own controller, aborted when the caller's signal is: lets the gateway cancel a call (the
// consumer left the stream) without owning the caller's signal.
function linkedController(signal: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true, signal: controller.signal });
  return controller;
}

// A single-consumer async queue of text deltas. Deltas buffer until read, so a caller that only
// awaits `result` loses nothing; a consumer that stops reading early cancels the call.
function createDeltaStream(onCancel: () => void): AsyncIterable<string> & { push: (text: string) => void; end: () => void; fail: (err: unknown) => void } {
  const buffered: string[] = [];
  let ended = false;
  let failed = false;
  let failure: unknown;
  let consumerLeft = false;
  let waiting: { resolve: (r: IteratorResult<string>) => void; reject: (err: unknown) => void } | undefined;

  const iterator: AsyncIterator<string> = {
    next() {
      if (buffered.length > 0) return Promise.resolve({ value: buffered.shift()!, done: false });
      if (failed) {
        failed = false;
        ended = true;
        return Promise.reject(failure);
      }
      if (ended || consumerLeft) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    return() {
      if (!ended && !failed) onCancel();
      consumerLeft = true;
      buffered.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
  };

  return {
    [Symbol.asyncIterator]: () => iterator,
    push(text) {
      if (consumerLeft || ended) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w.resolve({ value: text, done: false });
      } else buffered.push(text);
    },
    end() {
      ended = true;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w.resolve({ value: undefined, done: true });
      }
    },
    fail(err) {
      if (ended) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        ended = true;
        w.reject(err);
      } else {
        failed = true;
        failure = err;
      }
    },
  };
}
