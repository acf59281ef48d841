// A room's long memory: messages older than the character's memory window are folded into a rolling
// summary by the LLM, in the background after a reply, so the prompt keeps the gist of a long
// conversation at a bounded size. The summary moves forward only (summary_through), and only the
// refresh that read the old one may replace it, so two nodes refreshing at once cannot go backwards.
import type { Logger } from 'pino';
import type { LlmModule } from '../llm/gateway.ts';
import type { Em } from '../transaction.ts';
import type { Character } from './characters.ts';

// Messages that have left the window are summarised in batches of at least this many.
const BATCH = 10;
const MAX_SUMMARY_CHARS = 2000;

export function createMemorySummarizer(deps: { em: Em; llm: LlmModule; logger: Logger; model: string }) {
  const refreshing = new Set<string>();

  async function refresh(roomId: string, character: Character): Promise<boolean> {
    const window = character.settings.useMemory ? character.settings.memoryLength : 0;
    const db = deps.em.fork();
    const [room] = await db.execute<{ summary: string; summary_through: string }[]>(`select summary, summary_through from chat_rooms where id = ?`, [roomId]);
    if (!room) return false;
    // Everything done and current, older than the last `window` such messages and not yet summarised.
    const rows = await db.execute<{ seq: string; sender_type: string; content: string }[]>(
      `select seq, sender_type, content from (
         select seq, sender_type, content, row_number() over (order by seq desc) as from_end
           from chat_messages where room_id = ? and superseded_at is null and status = 'done' and content <> '') m
        where from_end > ? and seq > ? order by seq limit 200`,
      [roomId, window, room.summary_through],
    );
    if (rows.length < BATCH) return false;
    const name = character.input.name;
    const transcript = rows.map((r) => `${r.sender_type === 'user' ? 'User' : name}: ${r.content}`).join('\n');
    const outcome = await deps.llm.chat({
      model: deps.model,
      maxTokens: 500,
      temperature: 0.2,
      messages: [
        { role: 'system', content: `Summarise a role-play conversation between a user and ${name} for ${name}'s memory: facts learned, promises, names, feelings, open threads. At most ${MAX_SUMMARY_CHARS} characters, in the conversation's language. Merge with the summary so far.` },
        { role: 'user', content: `Summary so far:\n${room.summary || '(none)'}\n\nNew messages:\n${transcript}` },
      ],
    });
    const through = rows[rows.length - 1].seq;
    const updated = await db.execute<{ id: string }[]>(
      `update chat_rooms set summary = ?, summary_through = ? where id = ? and summary_through = ? returning id`,
      [outcome.text.slice(0, MAX_SUMMARY_CHARS), through, roomId, room.summary_through],
    );
    return updated.length > 0;
  }

  // Fire and forget, one at a time per room on this node.
  function schedule(roomId: string, character: Character): void {
    if (refreshing.has(roomId)) return;
    refreshing.add(roomId);
    refresh(roomId, character)
      .catch((err) => deps.logger.warn({ err, roomId }, 'chat memory summary not refreshed'))
      .finally(() => refreshing.delete(roomId));
  }

  return { refresh, schedule };
}
