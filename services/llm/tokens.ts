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

export function countChatTokens(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMING;
  for (const m of messages) total += PER_MESSAGE + countTextTokens(m.content);
  return total;
}
