// The real LLM client: the official `openai` SDK against api.openai.com or any OpenAI-compatible
// server (vLLM, Ollama, llama.cpp) through OPENAI_BASE_URL.
//
// The SDK's own retries are off (maxRetries: 0): the gateway owns the retry policy, because only it
// knows whether a streamed token already reached the user (after that a retry would repeat text).
// The SDK's `timeout` only covers the wait for response headers, so the body — a stream that stalls
// between chunks, a JSON body that never finishes — is guarded here with an idle deadline.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import {
  LlmProviderError, speechContentType,
  type ChatMessage, type ChatRequest, type ChatResult, type ChatStreamEvent, type EmbedRequest, type EmbedResult, type ImageRequest,
  type ImageResult, type LlmFailureKind, type LlmProvider, type SpeechRequest, type SpeechResult, type TokenUsage,
} from './index.ts';

const SERVICE = 'openai';

export type OpenAiProviderOptions = {
  apiKey: string;
  // Unset: https://api.openai.com/v1. A compatible server's base includes its `/v1`.
  baseUrl?: string;
  // Time to the first byte and, for streams, the longest silence between two chunks.
  timeoutMs: number;
  // Image generation routinely takes longer than a chat turn.
  imageTimeoutMs?: number;
};

export function createOpenAiProvider(opts: OpenAiProviderOptions): LlmProvider {
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseUrl ?? 'https://api.openai.com/v1',
    timeout: opts.timeoutMs,
    maxRetries: 0,
    // Failures are turned into typed errors and logged (redacted) by the gateway, not printed by the SDK.
    logLevel: 'off',
    // Explicit values so a stray OPENAI_ORG_ID / OPENAI_PROJECT_ID in the environment is not picked up.
    organization: null,
    project: null,
  });
  // api.openai.com wants max_completion_tokens (reasoning models refuse max_tokens); compatible
  // servers have understood max_tokens for longer than the newer name.
  const maxTokensField = !opts.baseUrl || /(^|\.)openai\.com$/.test(new URL(opts.baseUrl).hostname) ? 'max_completion_tokens' : 'max_tokens';

  function chatBody(req: ChatRequest) {
    return {
      model: req.model,
      messages: req.messages.map(toWireMessage),
      ...(req.maxTokens !== undefined ? { [maxTokensField]: req.maxTokens } : {}),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
  }

  return {
    name: SERVICE,

    async *streamChat(req: ChatRequest): AsyncGenerator<ChatStreamEvent> {
      const guard = idleDeadline(opts.timeoutMs, req.signal);
      try {
        const stream = await client.chat.completions.create(
          { ...chatBody(req), stream: true, stream_options: { include_usage: true } },
          { signal: guard.signal },
        );
        let usage: TokenUsage | undefined;
        guard.touch();
        for await (const chunk of stream) {
          guard.touch();
          const text = chunk.choices[0]?.delta?.content;
          if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
          if (text) {
            // The deadline measures the provider's silence, not how long our consumer takes.
            guard.pause();
            yield { type: 'text', text };
            guard.touch();
          }
        }
        // The SDK ends a stream quietly when its signal aborts; here that is a timeout or a cancel, not the end.
        if (guard.signal.aborted) throw guard.signal.reason;
        if (usage) yield { type: 'usage', usage };
      } catch (err) {
        throw toLlmError(err, guard);
      } finally {
        // Closes the HTTP request if the consumer stopped early or something failed.
        guard.dispose();
      }
    },

    async chat(req: ChatRequest): Promise<ChatResult> {
      return guarded(opts.timeoutMs, req.signal, async (signal) => {
        const completion = await client.chat.completions.create({ ...chatBody(req), stream: false }, { signal });
        const choice = completion.choices[0];
        return {
          text: choice?.message?.content ?? '',
          usage: completion.usage ? { promptTokens: completion.usage.prompt_tokens, completionTokens: completion.usage.completion_tokens } : undefined,
          finishReason: choice?.finish_reason ?? undefined,
          model: completion.model || req.model,
          provider: SERVICE,
        };
      });
    },

    async embed(req: EmbedRequest): Promise<EmbedResult> {
      return guarded(opts.timeoutMs, req.signal, async (signal) => {
        // Float encoding: every compatible server speaks it; base64 is OpenAI's newer default.
        const res = await client.embeddings.create(
          { model: req.model, input: req.input, encoding_format: 'float', ...(req.dimensions ? { dimensions: req.dimensions } : {}) },
          { signal },
        );
        if (res.data.length !== req.input.length) {
          throw new LlmProviderError(SERVICE, 'server', `expected ${req.input.length} embeddings, got ${res.data.length}`);
        }
        // The API gives each vector its input's index; order on the wire is not a promise.
        const vectors = new Array<number[]>(req.input.length);
        for (const item of res.data) vectors[item.index] = Array.from(item.embedding);
        return { vectors, usage: res.usage ? { promptTokens: res.usage.prompt_tokens } : undefined, model: res.model || req.model, provider: SERVICE };
      });
    },

    async speech(req: SpeechRequest): Promise<SpeechResult> {
      return guarded(opts.timeoutMs, req.signal, async (signal) => {
        const res = await client.audio.speech.create({ model: req.model, voice: req.voice, input: req.input, response_format: req.format, speed: req.speed }, { signal });
        const audio = Buffer.from(await res.arrayBuffer());
        return { audio, contentType: res.headers.get('content-type') ?? speechContentType(req.format), format: req.format, model: req.model, provider: SERVICE };
      });
    },

    async generateImage(req: ImageRequest): Promise<ImageResult> {
      return guarded(opts.imageTimeoutMs ?? opts.timeoutMs, req.signal, async (signal) => {
        const res = await client.images.generate({ model: req.model, prompt: req.prompt, size: req.size, n: req.n }, { signal, timeout: opts.imageTimeoutMs ?? opts.timeoutMs });
        return {
          images: (res.data ?? []).map((img) => ({ b64: img.b64_json ?? undefined, url: img.url ?? undefined, revisedPrompt: img.revised_prompt ?? undefined })),
          usage: res.usage ? { promptTokens: res.usage.input_tokens, completionTokens: res.usage.output_tokens } : undefined,
          model: req.model,
          provider: SERVICE,
        };
      });
    },
  };
}

// Strings go out as they are; parts become OpenAI's content array, images inline as data URLs
// (no upload step, and nothing the provider has to fetch from us).
function toWireMessage(m: ChatMessage): OpenAI.Chat.Completions.ChatCompletionMessageParam {
  if (typeof m.content === 'string') return { role: m.role, content: m.content };
  const parts = m.content.map((p): OpenAI.Chat.Completions.ChatCompletionContentPart => p.type === 'text'
    ? { type: 'text', text: p.text }
    : { type: 'image_url', image_url: { url: `data:${p.mimeType};base64,${Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64')}`, ...(p.detail ? { detail: p.detail } : {}) } });
  if (m.role === 'user') return { role: 'user', content: parts };
  // The gateway lets images only into user messages; system and assistant content is text parts.
  const text = parts.filter((p): p is OpenAI.Chat.Completions.ChatCompletionContentPartText => p.type === 'text');
  return m.role === 'system' ? { role: 'system', content: text } : { role: 'assistant', content: text };
}

type Deadline = {
  signal: AbortSignal;
  timedOut: () => boolean;
  callerAborted: () => boolean;
  timeoutMs: number;
  touch: () => void;
  pause: () => void;
  dispose: () => void;
};

// An AbortSignal that fires when the caller aborts or when `timeoutMs` pass without a touch().
function idleDeadline(timeoutMs: number, caller: AbortSignal | undefined): Deadline {
  const controller = new AbortController();
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      expired = true;
      controller.abort(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
  };
  arm();
  return {
    signal: caller ? AbortSignal.any([caller, controller.signal]) : controller.signal,
    timedOut: () => expired,
    callerAborted: () => Boolean(caller?.aborted),
    timeoutMs,
    touch: arm,
    pause: () => clearTimeout(timer),
    dispose: () => {
      clearTimeout(timer);
      controller.abort();
    },
  };
}

// One request whose whole response (headers and body) must arrive within timeoutMs.
async function guarded<T>(timeoutMs: number, caller: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const guard = idleDeadline(timeoutMs, caller);
  try {
    return await run(guard.signal);
  } catch (err) {
    throw toLlmError(err, guard);
  } finally {
    guard.dispose();
  }
}

function toLlmError(err: unknown, guard: Deadline): LlmProviderError {
  if (err instanceof LlmProviderError) return err;
  // Order matters: our own deadline and the caller's abort both surface as an SDK "user abort".
  if (guard.callerAborted()) return new LlmProviderError(SERVICE, 'aborted', 'request aborted by the caller', { cause: err });
  if (guard.timedOut() || err instanceof APIConnectionTimeoutError) {
    return new LlmProviderError(SERVICE, 'timeout', `no response within ${guard.timeoutMs} ms`, { cause: err });
  }
  if (err instanceof APIUserAbortError) return new LlmProviderError(SERVICE, 'aborted', 'request aborted', { cause: err });
  if (err instanceof APIConnectionError) return new LlmProviderError(SERVICE, 'network', 'connection failed', { cause: err });
  if (err instanceof APIError) {
    const status = err.status;
    const code = err.code ?? undefined;
    const kind = kindOf(status, code, err.type);
    return new LlmProviderError(SERVICE, kind, status ? `HTTP ${status}${code ? ` ${code}` : ''}` : `error event in stream${code ? ` (${code})` : ''}`, {
      status,
      code,
      retryAfterMs: err.headers ? retryAfterMs(err.headers) : undefined,
      cause: err,
    });
  }
  // A body cut off mid-way (undici "terminated", a truncated JSON document) is a network failure.
  return new LlmProviderError(SERVICE, 'network', 'response interrupted', { cause: err });
}

function kindOf(status: number | undefined, code: string | undefined, type: string | undefined): LlmFailureKind {
  // An error event inside an already-started stream carries no HTTP status: the server gave up.
  if (status === undefined) return 'server';
  if (status === 429) return code === 'insufficient_quota' || type === 'insufficient_quota' ? 'quota' : 'rate_limited';
  if (status === 408) return 'timeout';
  // OpenAI answers 409 for a transient lock conflict; its own SDK retries it.
  if (status === 409 || status >= 500) return 'server';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (code === 'content_policy_violation' || code === 'content_filter') return 'content_filtered';
  return 'bad_request';
}

function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
