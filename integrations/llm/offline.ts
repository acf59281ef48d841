// The OFFLINE LLM driver, for development without an API key (server/config.ts refuses it in
// production). It does real, cheap work rather than returning canned text, so the apps built on
// it behave sensibly offline:
// - embeddings are hashed character 2–3-grams (lexical retrieval that also works for Korean,
//   where words carry particles: 비밀번호를 / 비밀번호는 still share most n-grams);
// - a chat reply quotes the context sentences (system and earlier messages) most similar to the
//   last user message, as plain text (the context is markdown; the reply keeps none of its marks),
//   streamed word by word;
// - images in a chat are ignored: it reads only the text;
// - speech is a short WAV tone, images a small PNG coloured by the prompt's hash.
// Everything it shapes says `provider: 'offline'`, and text replies start with "[offline]". Chat
// results name OFFLINE_CHAT_MODEL, not the model the call asked for: that model never ran.
import { cosineSimilarity as cosine } from '../../workers/vector.ts';
import crypto from 'node:crypto';
import { countTokens } from 'gpt-tokenizer';
import sharp from 'sharp';
import {
  LlmProviderError, textOf,
  type ChatMessage, type ChatRequest, type ChatResult, type ChatStreamEvent, type EmbedRequest, type EmbedResult,
  type ImageRequest, type ImageResult, type LlmProvider, type SpeechRequest, type SpeechResult, type TokenUsage,
} from './index.ts';

const NAME = 'offline';
export const OFFLINE_LABEL = '[offline]';
// What answers a chat here, whatever model the call names.
export const OFFLINE_CHAT_MODEL = 'offline-extractive';
const DEFAULT_DIMENSIONS = 512;
const QUOTED_SENTENCES = 3;
const MIN_RELEVANCE = 0.05;
// Special tokens in user text are counted as the plain text they are.
const PLAIN = { disallowedSpecial: new Set<string>() };

export function createOfflineProvider(opts: { dimensions?: number } = {}): LlmProvider {
  const defaultDimensions = opts.dimensions ?? DEFAULT_DIMENSIONS;

  // `state.truncated` tells chat() whether max_tokens cut the reply short.
  async function* streamChat(req: ChatRequest, state: { truncated: boolean } = { truncated: false }): AsyncGenerator<ChatStreamEvent> {
    let completionTokens = 0;
    for (const chunk of composeReply(req.messages)) {
      // A turn of the event loop per chunk, as a network stream would give, so aborts land mid-reply.
      await new Promise((r) => setImmediate(r));
      if (req.signal?.aborted) throw new LlmProviderError(NAME, 'aborted', 'request aborted by the caller');
      const tokens = countTokens(chunk, PLAIN);
      if (req.maxTokens !== undefined && completionTokens + tokens > req.maxTokens) {
        state.truncated = true;
        break;
      }
      completionTokens += tokens;
      yield { type: 'text', text: chunk };
    }
    yield { type: 'usage', usage: { promptTokens: promptTokens(req.messages), completionTokens } };
  }

  return {
    name: NAME,
    streamChat: (req) => streamChat(req),

    async chat(req: ChatRequest): Promise<ChatResult> {
      const state = { truncated: false };
      let text = '';
      let usage: TokenUsage | undefined;
      for await (const ev of streamChat(req, state)) {
        if (ev.type === 'text') text += ev.text;
        else usage = ev.usage;
      }
      return { text, usage, finishReason: state.truncated ? 'length' : 'stop', model: OFFLINE_CHAT_MODEL, provider: NAME };
    },

    async embed(req: EmbedRequest): Promise<EmbedResult> {
      if (req.signal?.aborted) throw new LlmProviderError(NAME, 'aborted', 'request aborted by the caller');
      const dimensions = req.dimensions ?? defaultDimensions;
      return {
        vectors: req.input.map((text) => hashedNgramEmbedding(text, dimensions)),
        usage: { promptTokens: req.input.reduce((n, t) => n + countTokens(t, PLAIN), 0) },
        model: req.model,
        provider: NAME,
      };
    },

    async speech(req: SpeechRequest): Promise<SpeechResult> {
      if (req.signal?.aborted) throw new LlmProviderError(NAME, 'aborted', 'request aborted by the caller');
      // Roughly the length a voice would take, capped so the bytes stay small.
      const seconds = Math.min(5, (0.3 + req.input.length * 0.06) / (req.speed ?? 1));
      if (req.format === 'pcm') {
        return { audio: toneSamples(24_000, seconds), contentType: 'audio/L16;rate=24000;channels=1', format: 'pcm', model: req.model, provider: NAME };
      }
      // Other formats would need an encoder; a WAV says what it is in its own header.
      const audio = wav(toneSamples(16_000, seconds), 16_000, `${OFFLINE_LABEL} speech for ${req.input.length} characters`);
      return { audio, contentType: 'audio/wav', format: 'wav', model: req.model, provider: NAME };
    },

    async generateImage(req: ImageRequest): Promise<ImageResult> {
      if (req.signal?.aborted) throw new LlmProviderError(NAME, 'aborted', 'request aborted by the caller');
      const { width, height } = offlineImageSize(req.size);
      const images = await Promise.all(
        Array.from({ length: req.n }, async (_, i) => {
          const [r, g, b] = crypto.createHash('sha256').update(`${i}:${req.prompt}`).digest();
          const png = await sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toBuffer();
          return { b64: png.toString('base64'), revisedPrompt: `${OFFLINE_LABEL} ${req.prompt}` };
        }),
      );
      return { images, model: req.model, provider: NAME };
    },
  };
}

// Character 2- and 3-grams of each word (padded with a space so word starts and ends count),
// feature-hashed with a sign bit into `dimensions` buckets, L2-normalised: cosine similarity is
// then a dot product. Grams at a word's start weigh more and those at its end less: the stem
// comes first, while the end holds Korean particles and endings (를, 어요) and English suffixes,
// which unrelated sentences share all the time.
export function hashedNgramEmbedding(text: string, dimensions = DEFAULT_DIMENSIONS): number[] {
  const vector = new Float64Array(dimensions);
  const words = text.normalize('NFKC').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  for (const word of words) {
    const padded = ` ${word} `;
    const chars = Array.from(padded);
    for (let n = 2; n <= 3; n++) {
      for (let i = 0; i + n <= chars.length; i++) {
        const gram = chars.slice(i, i + n).join('');
        if (gram.trim().length === 0) continue;
        const weight = gram.startsWith(' ') ? 1.5 : gram.endsWith(' ') ? 0.5 : 1;
        const h = fnv1a(gram);
        vector[h % dimensions] += h & 0x80000000 ? -weight : weight;
      }
    }
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm);
  return Array.from(vector, (v) => (norm > 0 ? v / norm : 0));
}


function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// The reply quotes, in their original order, the context sentences closest to the question.
function composeReply(messages: ChatMessage[]): string[] {
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') {
      lastUser = i;
      break;
    }
  }
  const question = lastUser >= 0 ? textOf(messages[lastUser].content) : '';
  const sentences = messages.filter((_, i) => i !== lastUser).flatMap((m) => splitSentences(textOf(m.content)));
  const q = hashedNgramEmbedding(question);
  const ranked = sentences
    .map((sentence, index) => ({ sentence, index, score: cosine(q, hashedNgramEmbedding(sentence)) }))
    .filter((s) => s.score >= MIN_RELEVANCE)
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const picked = [...new Set(ranked.slice(0, QUOTED_SENTENCES).sort((a, b) => a.index - b.index).map((s) => s.sentence))];
  const body = picked.length > 0
    ? picked.join(' ')
    : `No context matches this question yet: "${excerpt(question, 80)}"`;
  const reply = `${OFFLINE_LABEL} ${body}`;
  return reply.match(/\S+\s*/g) ?? [reply];
}

// Lines of the context are markdown (the knowledge and the prompt templates are written in it):
// headings, rules and table borders are structure, not sentences worth quoting; what is left loses
// its list, quote, emphasis, code and link marks, so a reply never reads "## 탑" or "**CS**".
function splitSentences(text: string): string[] {
  return text
    .split(/\n+/)
    .filter((line) => !MARKDOWN_STRUCTURE.test(line))
    .map(withoutLineMarks)
    .flatMap((line) => line.split(/(?<=[.!?。！？])\s+/u))
    .map(withoutInlineMarks)
    .filter((s) => Array.from(s).length >= 2);
}

// A heading, a horizontal rule, a table's border row or a code fence.
const MARKDOWN_STRUCTURE = /^\s*(?:#{1,6}(?:\s|$)|(?:[-*_]\s*){3,}$|\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$|```|~~~)/;

// Before sentences are split, or "1. 라인 관리" would split at "1.".
function withoutLineMarks(line: string): string {
  return line
    .replace(/^\s*(?:>\s*)+/, '') // block quotes
    .replace(/^\s*(?:[-*+•]|\d+[.)])\s+(?:\[[ xX]\]\s+)?/u, '') // list items, task boxes
    .replace(/^\s*\|(.*)\|\s*$/, (_, cells: string) => cells.split('|').map((c) => c.trim()).filter(Boolean).join(', ')); // a table row
}

function withoutInlineMarks(sentence: string): string {
  return sentence
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
    .replace(/`+([^`]+)`+/g, '$1')
    .replace(/(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1/g, '$2')
    // Single * or _ only where they wrap words, so snake_case and 2*3 survive.
    .replace(/(?<![\p{L}\p{N}*_])([*_])(?=\S)(.+?)(?<=\S)\1(?![\p{L}\p{N}*_])/gu, '$2')
    .trim();
}

function excerpt(text: string, max: number): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
}

function promptTokens(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + 4 + countTokens(textOf(m.content), PLAIN), 3);
}

function offlineImageSize(size: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(size);
  const [w, h] = m ? [Number(m[1]), Number(m[2])] : [1024, 1024];
  // Same aspect as asked for, at most 256 px a side: it is a placeholder, not a picture.
  const scale = Math.min(1, 256 / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

// A quiet 440 Hz tone as 16-bit signed little-endian mono samples.
function toneSamples(rate: number, seconds: number): Buffer {
  const count = Math.round(rate * seconds);
  const out = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) out.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 3000), i * 2);
  return out;
}

// RIFF/WAVE with a LIST/INFO comment (ICMT) that labels the file as offline output.
function wav(samples: Buffer, rate: number, comment: string): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8); // PCM
  fmt.writeUInt16LE(1, 10); // mono
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(16, 22);
  let text = Buffer.from(`${comment}\0`, 'utf8');
  if (text.length % 2) text = Buffer.concat([text, Buffer.alloc(1)]);
  const icmt = Buffer.concat([Buffer.from('ICMT', 'ascii'), u32(text.length), text]);
  const list = Buffer.concat([Buffer.from('LIST', 'ascii'), u32(4 + icmt.length), Buffer.from('INFO', 'ascii'), icmt]);
  const data = Buffer.concat([Buffer.from('data', 'ascii'), u32(samples.length), samples]);
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, list, data]);
  return Buffer.concat([Buffer.from('RIFF', 'ascii'), u32(body.length), body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
