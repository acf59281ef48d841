// What a reply's prompt takes from the character's lorebook: the scan (services/chat/lorebook.ts)
// over the room's recent messages with the room's state, semantic entries scored through the LLM
// gateway's embeddings, and a record of every entry injected and why (stored with the reply).
import type { Logger } from 'pino';
import type { LlmModule } from '../llm/gateway.ts';
import { countTextTokens } from '../llm/tokens.ts';
import { placeEntries, scanLorebook, semanticQueryText, semanticScores, toInjectionRecords, type EmbeddingCache, type LorebookMessage } from './lorebook.ts';
import { NO_LORE } from './prompt.ts';
import type { LoreScan } from './replies.ts';
import { lorebookState, type LorebookState } from './schemas.ts';

// Entry contents embedded once per content (the lorebook hashes them); bounded, oldest out first.
function boundedCache(max: number): EmbeddingCache {
  const vectors = new Map<string, readonly number[]>();
  return {
    get: (key) => vectors.get(key),
    set: (key, vector) => {
      if (vectors.size >= max) vectors.delete(vectors.keys().next().value!);
      vectors.set(key, vector);
    },
  };
}

export function createLoreScanner(deps: { llm: LlmModule; logger: Logger; maxCachedVectors?: number }): LoreScan {
  const cache = boundedCache(deps.maxCachedVectors ?? 20_000);
  return async ({ character, room, recent }) => {
    const book = character.lorebook;
    if (!book || book.entries.length === 0) return { lore: NO_LORE, context: { injected: [], skipped: [], tokens: 0 }, state: room.lorebook_state };
    const messages: LorebookMessage[] = recent.map((m) => ({ role: m.senderType, content: m.content, index: m.seq }));
    const parsed = lorebookState.safeParse(room.lorebook_state ?? {});
    const state: LorebookState = parsed.success ? parsed.data : { lastHitAt: {} };
    // Meaning is a second way in: without embeddings (the provider down) keywords still work.
    const semanticHits = book.entries.some((e) => e.semantic && e.enabled)
      ? await semanticScores({ entries: book.entries, query: semanticQueryText(book, messages), embed: async (texts) => (await deps.llm.embed(texts)).vectors, cache }).catch((err) => {
        deps.logger.warn({ err, roomId: room.id }, 'lorebook semantic entries skipped: embeddings failed');
        return undefined;
      })
      : undefined;
    const scan = scanLorebook({ book, messages, state, countTokens: countTextTokens, semanticHits });
    return {
      lore: placeEntries(scan),
      context: { injected: toInjectionRecords(scan), skipped: scan.skipped, tokens: scan.tokensUsed },
      state: scan.nextState,
    };
  };
}
