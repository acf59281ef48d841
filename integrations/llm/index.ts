// The contract every LLM backend fulfils: the real OpenAI(-compatible) client and the offline
// driver. Services never see a provider directly; they go through services/llm/gateway.ts, which
// adds retries, fallback, limits, bulkheads and cost on top of this interface.
import { ProviderError } from '../http.ts';

export type ChatRole = 'system' | 'user' | 'assistant';
export const CHAT_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type ChatImageType = (typeof CHAT_IMAGE_TYPES)[number];
// `detail` as OpenAI reads it: low is a fixed 512 px view and cheap; high looks at tiles; auto lets the model pick.
export type ChatContentPart =
  | { type: 'text'; text: string }
  | { type: 'image'; data: Uint8Array; mimeType: ChatImageType; detail?: 'low' | 'high' | 'auto' };
// A plain string is a text-only message, as every caller wrote it before images; parts carry
// images too, and only user messages may hold them (the gateway refuses them elsewhere).
export type ChatMessage = { role: ChatRole; content: string | ChatContentPart[] };
export type TokenUsage = { promptTokens: number; completionTokens: number };

export type ChatRequest = {
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
};

// Text deltas as they arrive, then (when the backend reports it) one usage event at the end.
// The message's text without its images, parts joined by a blank line.
export function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  return content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('\n\n');
}

export type ChatStreamEvent = { type: 'text'; text: string } | { type: 'usage'; usage: TokenUsage };

export type ChatResult = {
  text: string;
  usage?: TokenUsage;
  finishReason?: string;
  model: string;
  provider: string;
};

export type EmbedRequest = { model: string; input: string[]; dimensions?: number; signal?: AbortSignal };
export type EmbedResult = { vectors: number[][]; usage?: { promptTokens: number }; model: string; provider: string };

export const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];
// speed: 0.25–4 (1 is natural); a character's voice settings carry one.
export type SpeechRequest = { model: string; voice: string; input: string; format: SpeechFormat; speed?: number; signal?: AbortSignal };
export type SpeechResult = { audio: Buffer; contentType: string; format: SpeechFormat; model: string; provider: string };

export type ImageRequest = { model: string; prompt: string; size: string; n: number; signal?: AbortSignal };
// Models answer with base64 bytes (gpt-image-*) or a short-lived URL (dall-e-*); either is passed on.
export type GeneratedImage = { b64?: string; url?: string; revisedPrompt?: string };
export type ImageResult = { images: GeneratedImage[]; usage?: TokenUsage; model: string; provider: string };

export interface LlmProvider {
  // 'openai' or 'offline': travels with every result so callers and logs can tell them apart.
  readonly name: string;
  streamChat(req: ChatRequest): AsyncIterable<ChatStreamEvent>;
  chat(req: ChatRequest): Promise<ChatResult>;
  embed(req: EmbedRequest): Promise<EmbedResult>;
  speech(req: SpeechRequest): Promise<SpeechResult>;
  generateImage(req: ImageRequest): Promise<ImageResult>;
}

// `kind` is what the gateway decides on: retry (rate_limited, server, network, timeout), give up
// (bad_request, content_filtered, auth, not_found, quota) or stop quietly (aborted: the caller left).
export type LlmFailureKind =
  | 'rate_limited' | 'server' | 'network' | 'timeout'
  | 'bad_request' | 'content_filtered' | 'auth' | 'not_found' | 'quota'
  | 'aborted';

const RETRYABLE_KINDS = new Set<LlmFailureKind>(['rate_limited', 'server', 'network', 'timeout']);

export class LlmProviderError extends ProviderError {
  readonly kind: LlmFailureKind;
  // The provider's own error code (`rate_limit_exceeded`, `context_length_exceeded`, …) when it sent one.
  readonly code?: string;
  // From `retry-after-ms` / `retry-after`: how long the provider asked us to wait.
  readonly retryAfterMs?: number;

  constructor(service: string, kind: LlmFailureKind, message: string, opts: { status?: number; code?: string; retryAfterMs?: number; cause?: unknown } = {}) {
    super(service, message, { status: opts.status, retryable: RETRYABLE_KINDS.has(kind), cause: opts.cause });
    this.name = 'LlmProviderError';
    this.kind = kind;
    this.code = opts.code;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export function speechContentType(format: SpeechFormat): string {
  switch (format) {
    case 'mp3': return 'audio/mpeg';
    // OpenAI's opus comes in an Ogg container.
    case 'opus': return 'audio/ogg';
    case 'aac': return 'audio/aac';
    case 'flac': return 'audio/flac';
    case 'wav': return 'audio/wav';
    // Raw 24 kHz 16-bit signed little-endian mono samples, no header.
    case 'pcm': return 'audio/L16;rate=24000;channels=1';
  }
}
