// Characters: the creator's writes, everyone's reads. A private character (or an inactive one) is
// visible to its creator only: to anyone else it does not exist (404). What makes a character
// answer the way it does — its settings' prompts and its lorebook — is the creator's work and is
// shown to the creator only; visitors see the character as it presents itself.
import crypto from 'node:crypto';
import { z } from 'zod';
import { createBusCache } from '../busCache.ts';
import { cursorCodec } from '../cursor.ts';
import type { InvalidationBus } from '../invalidation.ts';
import { AppError, notFound, type FieldIssue } from '../errors.ts';
import { exportCard, parseCard, type CardFormat, type CardV2, type CardV3 } from './cards.ts';
import type { TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { clientInstant } from '../time.ts';
import { characterInput, characterSettings, exampleDialogue, lorebook, type CharacterInput, type CharacterSettings, type Lorebook } from './schemas.ts';
import { pgArray } from '../pgArray.ts';

export type CharacterRow = {
  id: string; creator_id: string; name: string; description: string | null; personality: string | null; background_story: string | null;
  avatar_url: string | null; speech_style: string | null; greeting: string | null; world_setting: string | null; world_setting_id: string | null;
  user_display_description: string | null; use_custom_description: boolean; introduction_scenes: string[]; character_type: string | null;
  base_language: string; image_descriptions: string[]; voice_settings: CharacterInput['voiceSettings'] | null; has_affinity_system: boolean;
  affinity_rules: CharacterInput['affinityRules']; affinity_stages: CharacterInput['affinityStages']; use_translation: boolean; tags: string[];
  lorebook: Lorebook | null; card_extensions: Record<string, unknown>; settings: Partial<CharacterSettings>; is_public: boolean; is_active: boolean;
  chat_count: number; like_count: number; created_at: Date; updated_at: Date;
};

// The character as the chat uses it (prompt, pricing), with everything resolved.
export type Character = {
  id: string; creatorId: string; input: CharacterInput; settings: CharacterSettings; lorebook: Lorebook | null; extensions: Record<string, unknown>;
  worldRules: string | null; isPublic: boolean; isActive: boolean;
};

export const characterDto = z
  .object({
    id: z.uuid(),
    creatorId: z.uuid(),
    ...characterInput.omit({ settings: true, exampleDialogues: true, lorebook: true }).shape,
    settings: characterSettings.partial().meta({ description: "The creator sees all settings; others see only the model, memory and style (not the prompts)" }),
    exampleDialogues: z.array(exampleDialogue),
    lorebook: lorebook.nullable().meta({ description: 'The creator only; null for others' }),
    chatCount: z.number().int(),
    likeCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Character' });
export type CharacterDto = z.infer<typeof characterDto>;

export const characterListQuery = z.object({
  q: z.string().trim().min(1).max(100).optional().meta({ description: 'Words in the name, description or tags' }),
  tag: z.string().trim().min(1).max(30).optional(),
  type: z.string().trim().min(1).max(50).optional().meta({ description: 'characterType' }),
  sort: z.enum(['recent', 'popular']).default('recent'),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export type CharacterListQuery = z.infer<typeof characterListQuery>;

const recentCursor = cursorCodec(z.object({ at: clientInstant, id: z.uuid() }));
const popularCursor = cursorCodec(z.object({ chats: z.number().int().min(0), likes: z.number().int().min(0), id: z.uuid() }));

const COLUMNS = `id, creator_id, name, description, personality, background_story, avatar_url, speech_style, greeting, world_setting, world_setting_id,
  user_display_description, use_custom_description, introduction_scenes, character_type, base_language, image_descriptions, voice_settings,
  has_affinity_system, affinity_rules, affinity_stages, use_translation, tags, lorebook, card_extensions, settings, is_public, is_active,
  chat_count, like_count, created_at, updated_at`;

// LIKE patterns take the user's words literally.
const likePattern = (words: string) => `%${words.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function createCharacterService(deps: { em: Em; time: TimeFormatter; bus: InvalidationBus }) {
  const { em, time } = deps;

  function toInput(r: CharacterRow, examples: { user_message: string; character_response: string }[]): CharacterInput {
    return characterInput.parse({
      name: r.name,
      description: r.description ?? undefined,
      personality: r.personality ?? undefined,
      backgroundStory: r.background_story ?? undefined,
      avatarUrl: r.avatar_url ?? undefined,
      speechStyle: r.speech_style ?? undefined,
      greeting: r.greeting ?? undefined,
      worldSetting: r.world_setting ?? undefined,
      worldSettingId: r.world_setting_id ?? undefined,
      userDisplayDescription: r.user_display_description ?? undefined,
      useCustomDescription: r.use_custom_description,
      introductionScenes: r.introduction_scenes,
      characterType: r.character_type ?? undefined,
      baseLanguage: r.base_language,
      imageDescriptions: r.image_descriptions,
      voiceSettings: r.voice_settings ?? undefined,
      hasAffinitySystem: r.has_affinity_system,
      affinityRules: r.affinity_rules,
      affinityStages: r.affinity_stages,
      useTranslation: r.use_translation,
      isPublic: r.is_public,
      isActive: r.is_active,
      tags: r.tags,
      settings: r.settings,
      exampleDialogues: examples.map((e) => ({ userMessage: e.user_message, characterResponse: e.character_response })),
      lorebook: r.lorebook ?? undefined,
    });
  }

  function toDto(r: CharacterRow, examples: { user_message: string; character_response: string }[], viewerId: string | undefined): CharacterDto {
    const input = toInput(r, examples);
    const owner = viewerId === r.creator_id;
    const { systemPrompt: _s, customPromptTemplate: _t, ...publicSettings } = input.settings;
    return {
      ...input,
      id: r.id,
      creatorId: r.creator_id,
      settings: owner ? input.settings : publicSettings,
      lorebook: owner ? (input.lorebook ?? null) : null,
      chatCount: r.chat_count,
      likeCount: r.like_count,
      createdAt: time.format(new Date(r.created_at)),
      updatedAt: time.format(new Date(r.updated_at)),
    };
  }

  async function examplesOf(db: Em, characterIds: string[]) {
    if (characterIds.length === 0) return new Map<string, { user_message: string; character_response: string }[]>();
    const rows = await db.execute<{ character_id: string; user_message: string; character_response: string }[]>(
      `select character_id, user_message, character_response from chat_example_dialogues where character_id = any(?::uuid[]) order by character_id, order_index`,
      [pgArray(characterIds)],
    );
    const by = new Map<string, { user_message: string; character_response: string }[]>();
    for (const r of rows) by.set(r.character_id, [...(by.get(r.character_id) ?? []), r]);
    return by;
  }

  // The row, if `viewerId` may see it: its creator always; others only while public and active.
  async function visibleRow(db: Em, characterId: string, viewerId: string | undefined): Promise<CharacterRow> {
    const [row] = await db.execute<CharacterRow[]>(`select ${COLUMNS} from chat_characters where id = ? and deleted_at is null`, [characterId]);
    if (!row || (row.creator_id !== viewerId && !(row.is_public && row.is_active))) throw notFound('Character');
    return row;
  }

  async function ownRow(db: Em, characterId: string, userId: string, lock = false): Promise<CharacterRow> {
    const [row] = await db.execute<CharacterRow[]>(`select ${COLUMNS} from chat_characters where id = ? and deleted_at is null${lock ? ' for update' : ''}`, [characterId]);
    // Someone else's character answers 404 too, whether or not it is public: writes are the creator's.
    if (!row || row.creator_id !== userId) throw notFound('Character');
    return row;
  }

  async function assertWorldUsable(db: Em, userId: string, worldSettingId: string | undefined): Promise<void> {
    if (!worldSettingId) return;
    const [w] = await db.execute<{ ok: boolean }[]>(`select true as ok from chat_world_settings where id = ? and (is_public or creator_id = ?)`, [worldSettingId, userId]);
    if (!w) throw new AppError(400, 'unknown_world_setting', 'worldSettingId: no such world setting of yours or public one', { issues: [{ field: 'worldSettingId', message: 'no such world setting of yours or public one' }] });
  }

  async function writeExamples(tx: Em, characterId: string, examples: CharacterInput['exampleDialogues']): Promise<void> {
    await tx.execute(`delete from chat_example_dialogues where character_id = ?`, [characterId]);
    for (const [i, e] of examples.entries()) {
      await tx.execute(`insert into chat_example_dialogues (id, character_id, user_message, character_response, order_index) values (?, ?, ?, ?, ?)`, [crypto.randomUUID(), characterId, e.userMessage, e.characterResponse, i]);
    }
  }

  function columnsOf(input: CharacterInput, extensions: Record<string, unknown> | undefined): Record<string, unknown> {
    return {
      name: input.name, description: input.description ?? null, personality: input.personality ?? null, background_story: input.backgroundStory ?? null,
      avatar_url: input.avatarUrl ?? null, speech_style: input.speechStyle ?? null, greeting: input.greeting ?? null, world_setting: input.worldSetting ?? null,
      world_setting_id: input.worldSettingId ?? null, user_display_description: input.userDisplayDescription ?? null, use_custom_description: input.useCustomDescription,
      introduction_scenes: JSON.stringify(input.introductionScenes), character_type: input.characterType ?? null, base_language: input.baseLanguage,
      image_descriptions: JSON.stringify(input.imageDescriptions), voice_settings: input.voiceSettings ? JSON.stringify(input.voiceSettings) : null,
      has_affinity_system: input.hasAffinitySystem, affinity_rules: JSON.stringify(input.affinityRules), affinity_stages: JSON.stringify(input.affinityStages),
      use_translation: input.useTranslation, tags: pgArray(input.tags),
      lorebook: input.lorebook ? JSON.stringify(input.lorebook) : null, settings: JSON.stringify(input.settings), is_public: input.isPublic, is_active: input.isActive,
      ...(extensions ? { card_extensions: JSON.stringify(extensions) } : {}),
    };
  }

  async function create(userId: string, input: CharacterInput, extensions?: Record<string, unknown>): Promise<CharacterDto> {
    const id = crypto.randomUUID();
    await inTransaction(em.fork(), async (tx) => {
      await assertWorldUsable(tx, userId, input.worldSettingId);
      const cols = { id, creator_id: userId, ...columnsOf(input, extensions) };
      const names = Object.keys(cols);
      await tx.execute(`insert into chat_characters (${names.join(', ')}) values (${names.map(() => '?').join(', ')})`, Object.values(cols));
      await writeExamples(tx, id, input.exampleDialogues);
      if (input.worldSettingId) await tx.execute(`update chat_world_settings set usage_count = usage_count + 1 where id = ?`, [input.worldSettingId]);
    });
    return get(id, userId);
  }

  // A full replacement by the creator (PUT): fields not given take their defaults.
  async function update(userId: string, characterId: string, input: CharacterInput, extensions?: Record<string, unknown>): Promise<CharacterDto> {
    await inTransaction(em.fork(), async (tx) => {
      const before = await ownRow(tx, characterId, userId, true);
      await assertWorldUsable(tx, userId, input.worldSettingId);
      const cols = columnsOf(input, extensions);
      await tx.execute(`update chat_characters set ${Object.keys(cols).map((c) => `${c} = ?`).join(', ')}, updated_at = now() where id = ?`, [...Object.values(cols), characterId]);
      await writeExamples(tx, characterId, input.exampleDialogues);
      if (input.worldSettingId && input.worldSettingId !== before.world_setting_id) {
        await tx.execute(`update chat_world_settings set usage_count = usage_count + 1 where id = ?`, [input.worldSettingId]);
      }
    });
    forChatCache.invalidate(characterId);
    return get(characterId, userId);
  }

  async function remove(userId: string, characterId: string): Promise<void> {
    await inTransaction(em.fork(), async (tx) => {
      await ownRow(tx, characterId, userId, true);
      await tx.execute(`update chat_characters set deleted_at = now(), is_active = false where id = ?`, [characterId]);
    });
    forChatCache.invalidate(characterId);
  }

  async function get(characterId: string, viewerId: string | undefined): Promise<CharacterDto> {
    const db = em.fork();
    const row = await visibleRow(db, characterId, viewerId);
    return toDto(row, (await examplesOf(db, [row.id])).get(row.id) ?? [], viewerId);
  }

  // The character as replies use it, parsed once per node and shared by every message until it
  // changes (update and delete invalidate it on every node): loading a 500-entry lorebook and its
  // zod parse cost ~5 ms, and the lorebook keeps its compiled matchers on the parsed book. Edits of
  // a world setting reach it when the entry expires (a minute).
  const forChatCache = createBusCache<Character | null>({
    bus: deps.bus, topic: 'chat.character', ttlMs: 60_000, maxEntries: 5_000,
    load: async (characterId) => {
      const db = em.fork();
      const [row] = await db.execute<CharacterRow[]>(`select ${COLUMNS} from chat_characters where id = ? and deleted_at is null`, [characterId]);
      if (!row) return null;
      const input = toInput(row, (await examplesOf(db, [row.id])).get(row.id) ?? []);
      let worldRules: string | null = null;
      if (row.world_setting_id) {
        const [w] = await db.execute<{ description: string | null; rules: string | null }[]>(`select description, rules from chat_world_settings where id = ?`, [row.world_setting_id]);
        worldRules = [w?.description, w?.rules].filter(Boolean).join('\n') || null;
      }
      return Object.freeze({ id: row.id, creatorId: row.creator_id, input, settings: input.settings, lorebook: input.lorebook ?? null, extensions: row.card_extensions, worldRules, isPublic: row.is_public, isActive: row.is_active });
    },
  });

  // For the chat itself: the character a room talks to, if the room's user may see it.
  async function forChat(characterId: string, userId: string): Promise<Character> {
    const c = await forChatCache.get(characterId);
    if (!c || (c.creatorId !== userId && !(c.isPublic && c.isActive))) throw notFound('Character');
    return c;
  }

  async function page(where: string[], params: unknown[], q: CharacterListQuery, viewerId: string | undefined): Promise<{ items: CharacterDto[]; nextCursor: string | null }> {
    if (q.q) {
      where.push(`(name ilike ? or description ilike ? or ? = any(tags))`);
      params.push(likePattern(q.q), likePattern(q.q), q.q);
    }
    if (q.tag) {
      where.push(`? = any(tags)`);
      params.push(q.tag);
    }
    if (q.type) {
      where.push(`character_type = ?`);
      params.push(q.type);
    }
    let order: string;
    if (q.sort === 'popular') {
      if (q.cursor) {
        const c = popularCursor.decode(q.cursor);
        where.push(`(chat_count, like_count, id) < (?, ?, ?)`);
        params.push(c.chats, c.likes, c.id);
      }
      order = `chat_count desc, like_count desc, id desc`;
    } else {
      if (q.cursor) {
        const c = recentCursor.decode(q.cursor);
        where.push(`(created_at, id) < (?, ?)`);
        params.push(c.at, c.id);
      }
      order = `created_at desc, id desc`;
    }
    const db = em.fork();
    const rows = await db.execute<CharacterRow[]>(`select ${COLUMNS} from chat_characters where ${where.join(' and ')} order by ${order} limit ?`, [...params, q.limit + 1]);
    const shown = rows.slice(0, q.limit);
    const examples = await examplesOf(db, shown.map((r) => r.id));
    const last = shown.at(-1);
    const nextCursor = rows.length > q.limit && last
      ? q.sort === 'popular'
        ? popularCursor.encode({ chats: last.chat_count, likes: last.like_count, id: last.id })
        : recentCursor.encode({ at: new Date(last.created_at).toISOString(), id: last.id })
      : null;
    return { items: shown.map((r) => toDto(r, examples.get(r.id) ?? [], viewerId)), nextCursor };
  }

  // Everyone's public, active characters.
  function listPublic(q: CharacterListQuery, viewerId: string | undefined) {
    return page([`deleted_at is null`, `is_public`, `is_active`], [], q, viewerId);
  }

  // A creator's characters: all of them for the creator, the public active ones for anyone else.
  function listByCreator(creatorId: string, q: CharacterListQuery, viewerId: string | undefined) {
    const where = [`deleted_at is null`, `creator_id = ?`];
    if (viewerId !== creatorId) where.push(`is_public`, `is_active`);
    return page(where, [creatorId], q, viewerId);
  }

  // A community character card (V2/V3 JSON, or PNG with the card in its tEXt chunk) becomes a
  // character of the importer's; nothing is stored unless the whole card is valid. `warnings` are
  // what was kept but will not take effect here (regex keys, decorators).
  async function importCard(userId: string, bytes: Buffer, contentType: string | undefined): Promise<{ character: CharacterDto; warnings: FieldIssue[]; spec: string }> {
    const card = parseCard({ bytes, contentType, field: 'body' });
    const character = await create(userId, card.character, card.extensions);
    return { character, warnings: card.warnings, spec: card.spec };
  }

  // The creator's character as a card: the card carries its prompts and lorebook, so it is theirs only.
  async function exportCharacterCard(userId: string, characterId: string, format: CardFormat): Promise<CardV2 | CardV3 | Buffer> {
    const db = em.fork();
    const row = await ownRow(db, characterId, userId);
    const input = toInput(row, (await examplesOf(db, [row.id])).get(row.id) ?? []);
    return exportCard({ ...input, extensions: row.card_extensions }, format);
  }

  return { create, update, remove, get, forChat, listPublic, listByCreator, importCard, exportCard: exportCharacterCard };
}

export type CharacterService = ReturnType<typeof createCharacterService>;
