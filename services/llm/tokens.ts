// Token counting with the o200k_base encoding (gpt-4o, gpt-4.1, o-series), used to refuse an
// oversized prompt before it is sent and to estimate usage when a provider reports none.
// Other model families tokenize differently, but within a few percent: good enough for a limit.
import { countTokens } from 'gpt-tokenizer';
import type { ChatMessage } from '../../integrations/llm/index.ts';

// User text may contain "<|endoftext|>" and the like: count it as the plain text it is.
const PLAIN = { disallowedSpecial: new Set<string>() };

// OpenAI's chat format costs about 4 tokens around each message and 3 to prime the reply.
const PER_MESSAGE = 4;
const REPLY_PRIMING = 3;

export function countTextTokens(text: string): number {
  return text ? countTokens(text, PLAIN) : 0;
}

// Images are estimated without decoding them, from OpenAI's rule: low detail is a flat 85 tokens;
// high (and auto, which may choose high) is 85 plus 170 per 512 px tile of the image scaled to
// fit 2048 px and then 768 px on its short side — 765 for a square picture (four tiles), which
// we charge every image. Wide or tall images can cost more (up to 1105); a limit check does not
// need the exact figure, and the provider's own usage is what gets billed.
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS_HIGH = 765;

export function countChatTokens(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMING;
  for (const m of messages) {
    total += PER_MESSAGE;
    if (typeof m.content === 'string') total += countTextTokens(m.content);
    else for (const p of m.content) total += p.type === 'text' ? countTextTokens(p.text) : p.detail === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
  }
  return total;
}
