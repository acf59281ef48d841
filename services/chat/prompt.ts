// A reply's prompt, from the character, its settings and example dialogues, its world, the lore the
// lorebook put in play, the room's affinity stage and its memory: the rolling summary of older
// messages and the last `memoryLength` messages verbatim. Pure: the caller loads what it needs.
import type { ChatMessage } from '../../integrations/llm/index.ts';
import type { Character } from './characters.ts';
import type { LorebookPlacement } from './lorebook.ts';

// Lore placed by the lorebook scan (services/chat/lorebook.ts placeEntries).
export type PlacedLore = LorebookPlacement;

export const NO_LORE: PlacedLore = { beforeChar: [], afterChar: [], beforeExamples: [], afterExamples: [], atDepth: [] };

// `seq` orders messages in the room (the lorebook's cooldowns count in it).
export type MemoryMessage = { senderType: 'user' | 'character'; content: string; seq: number };

export type PromptInput = {
  character: Character;
  userName?: string;
  lore: PlacedLore;
  affinity: { score: number; stage: string | null } | null;
  summary: string;
  // Oldest first, the new user message last.
  recent: MemoryMessage[];
};

const section = (title: string, body: string | undefined | null) => (body && body.trim() ? `## ${title}\n${body.trim()}` : '');

// {{char}} and {{user}} as community cards write them.
const fill = (text: string, character: string, user: string) => text.replaceAll('{{char}}', character).replaceAll('{{user}}', user);

export function assemblePrompt(input: PromptInput): ChatMessage[] {
  const { character, lore } = input;
  const c = character.input;
  const user = input.userName ?? '사용자';
  const s = character.settings;

  const persona = [
    ...lore.beforeChar,
    section('Character', [`Name: ${c.name}`, c.description, c.personality && `Personality: ${c.personality}`, c.backgroundStory && `Background: ${c.backgroundStory}`].filter(Boolean).join('\n')),
    section('Speech style', c.speechStyle),
    ...lore.afterChar,
    section('World', [c.worldSetting, character.worldRules].filter(Boolean).join('\n')),
    input.affinity ? section('Relationship', `Affinity towards ${user}: ${input.affinity.score}${input.affinity.stage ? ` (stage: ${input.affinity.stage})` : ''}. Let it colour your tone.`) : '',
    section('Response style', s.responseStyle),
    section('Earlier in this conversation (summary)', input.summary),
  ].filter(Boolean);

  const examples = [
    ...lore.beforeExamples,
    c.exampleDialogues.length ? section('Example dialogue', c.exampleDialogues.map((e) => `${user}: ${e.userMessage}\n${c.name}: ${e.characterResponse}`).join('\n\n')) : '',
    ...lore.afterExamples,
  ].filter(Boolean);

  const base = s.systemPrompt ?? `You are ${c.name}. Stay in character, answer in ${c.baseLanguage === 'ko' ? 'Korean' : c.baseLanguage}, and never mention being an AI.`;
  const system = fill([base, ...persona, ...examples, s.customPromptTemplate ?? ''].filter(Boolean).join('\n\n'), c.name, user);

  const history: ChatMessage[] = input.recent.map((m) => ({ role: m.senderType === 'user' ? 'user' : 'assistant', content: m.content }));
  // Lore placed at a depth goes in as a system note that many messages from the end.
  for (const entry of [...lore.atDepth].sort((a, b) => b.depth - a.depth)) {
    const at = Math.max(0, history.length - entry.depth);
    history.splice(at, 0, { role: 'system', content: fill(entry.content, c.name, user) });
  }
  return [{ role: 'system', content: system }, ...history];
}
