// Character cards, the format creators use to move characters between tools (SillyTavern, RisuAI,
// Chub, Agnai, …): Character Card V1/V2 (github.com/malfoyslastname/character-card-spec-v2) and V3
// (github.com/kwaroran/character-card-spec-v3), as JSON or inside a PNG's `chara` / `ccv3` tEXt chunk.
//
// A card's fields map onto our character; whatever has no place in it comes back as `extensions`,
// which the caller stores with the character and hands back to exportCard, so an imported card
// leaves the way it came (the specs forbid destroying unknown data). Our own fields that cards have
// no place for travel in the card's `extensions[CARD_EXTENSION_KEY]`, so export → import gives the
// same character.
//
// Everything in a card is untrusted: sizes are checked before anything is decoded, every PNG chunk
// is bounds- and CRC-checked, and every failure is a 400 naming the field. Nothing here stores
// anything, so a refused card leaves no trace.
import { isDeepStrictEqual } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import { z } from 'zod';
import { AppError, badRequest, type FieldIssue } from '../errors.ts';
import { hostileStrings } from '../hostileInput.ts';
import { characterInput, characterSettings, lorebookEntry, type CharacterInput, type Lorebook, type LorebookEntry } from './schemas.ts';

export const CARD_LIMITS = {
  // A card PNG is an avatar plus a few hundred KB of text; 20 MB leaves room for large artwork.
  fileBytes: 20 * 1024 * 1024,
  // The card's JSON, as a file or once decoded from its chunk. Real cards with big lorebooks stay
  // well under 1 MB; the cap bounds what JSON.parse and the returned extensions can cost.
  jsonBytes: 4 * 1024 * 1024,
} as const;
// A chunk may hold exactly the base64 of the largest JSON we accept, so our own exports re-import.
const MAX_CARD_CHUNK_TEXT = Math.ceil(CARD_LIMITS.jsonBytes / 3) * 4;

// Our namespace in a card's `extensions`, as the V2 spec asks applications to use.
export const CARD_EXTENSION_KEY = 'realtime_platform';
const CARD_EXTENSION_VERSION = 1;

export type CardSpec = 'chara_card_v1' | 'chara_card_v2' | 'chara_card_v3';
export type CardFormat = 'v2' | 'v3' | 'png';
type Json = Record<string, unknown>;
export type CardV2 = { spec: 'chara_card_v2'; spec_version: '2.0'; data: Json & { name: string } };
export type CardV3 = { spec: 'chara_card_v3'; spec_version: '3.0'; data: Json & { name: string } };

// What a card brings that the character has no place for, kept to be written back on export.
export const cardExtensions = z
  .object({
    card: z.record(z.string(), z.unknown()).optional().meta({
      description: "The card's data fields with no place in the character (creator_notes, creator, character_version, V3's assets, nickname, source, dates, …), its extensions other than ours, and fields unknown to us",
    }),
    book: z.record(z.string(), z.unknown()).optional().meta({ description: "The lorebook's own fields other than scan_depth, token_budget and recursive_scanning (name, description, extensions)" }),
    entries: z.record(z.string(), z.record(z.string(), z.unknown())).optional().meta({ description: 'Per lorebook entry id: the fields ours has no place for (priority, extensions, …)' }),
    unsupportedEntries: z.array(z.record(z.string(), z.unknown())).optional().meta({ description: 'Lorebook entries we cannot run (regular-expression keys), kept verbatim and written back on export' }),
  })
  .meta({ id: 'CardExtensions' });
export type CardExtensions = z.infer<typeof cardExtensions>;

export type ParsedCard = {
  character: CharacterInput;
  extensions: CardExtensions;
  spec: CardSpec;
  // The PNG without its card chunks, when the card came as a PNG.
  avatar?: Buffer;
  // What was imported but will not take effect here (regex lorebook keys, V3 decorators, …).
  warnings: FieldIssue[];
};

export type CardCharacter = CharacterInput & { extensions?: Record<string, unknown> | null };

type ExampleDialogue = CharacterInput['exampleDialogues'][number];
type Position = LorebookEntry['position'];
type SelectiveLogic = LorebookEntry['selectiveLogic'];

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const compact = (o: Json): Json => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
const without = (o: Json, keys: Iterable<string>): Json => {
  const drop = new Set(keys);
  return Object.fromEntries(Object.entries(o).filter(([k]) => !drop.has(k)));
};
const only = (o: Json, keys: Iterable<string>): Json => {
  const keep = new Set(keys);
  return Object.fromEntries(Object.entries(o).filter(([k]) => keep.has(k)));
};
const textOrEmpty = (value: unknown): string => (typeof value === 'string' ? value : '');
// Cards write '' for "not set" (the V1 spec makes every field a mandatory string).
const nonBlank = (value: string | null | undefined): string | undefined => (value && value.trim() ? value : undefined);
const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const invalidCard = (field: string, message: string) => badRequest('invalid_card', message, field);
const cardTooLarge = (field: string, message: string) => badRequest('card_too_large', message, field);
const unsupportedSpec = (field: string, message: string) => badRequest('unsupported_card_spec', message, field);
function invalidCardIssues(issues: FieldIssue[]): AppError {
  return new AppError(400, 'invalid_card', issues.map((i) => `${i.field}: ${i.message}`).join('; '), { issues });
}

// ---------------------------------------------------------------------------------------------
// PNG chunks

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT_CHUNK_TYPES = new Set(['tEXt', 'iTXt', 'zTXt']);
const CARD_KEYWORDS = new Set(['chara', 'ccv3']);
// A PNG keyword is 1–79 Latin-1 bytes, then a NUL.
const MAX_KEYWORD_BYTES = 79;

type PngChunk = { type: string; keyword?: string; data: Buffer; bytes: Buffer };

const isCardChunk = (chunk: PngChunk) => chunk.keyword !== undefined && CARD_KEYWORDS.has(chunk.keyword.toLowerCase());

// Walks a PNG's chunks up to IEND. Each length is checked against the bytes that remain before
// anything is read, a card chunk against its cap before its CRC is even computed, and every CRC is
// verified, so a lying or truncated file is refused without reading past what it holds.
function readPngChunks(png: Buffer, field: string, code: string): PngChunk[] {
  const refuse = (message: string) => badRequest(code, message, field);
  const chunks: PngChunk[] = [];
  let offset = PNG_SIGNATURE.length;
  for (;;) {
    const n = chunks.length + 1;
    const remaining = png.length - offset;
    if (remaining < 12) throw refuse(`The PNG ends at byte ${png.length}, inside chunk ${n}, before its IEND chunk`);
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw refuse(`PNG chunk ${n} at byte ${offset} has no valid chunk type`);
    if (length > remaining - 12) throw refuse(`PNG chunk ${n} (${type}) at byte ${offset} declares ${length} bytes, but only ${remaining - 12} remain in the file`);
    if (n === 1 && (type !== 'IHDR' || length !== 13)) throw refuse('The PNG does not start with an IHDR chunk');
    const data = png.subarray(offset + 8, offset + 8 + length);
    let keyword: string | undefined;
    if (TEXT_CHUNK_TYPES.has(type)) {
      const nul = data.subarray(0, MAX_KEYWORD_BYTES + 1).indexOf(0);
      if (nul < 1) throw refuse(`PNG ${type} chunk ${n} has no keyword (no NUL separator within its first ${MAX_KEYWORD_BYTES + 1} bytes)`);
      keyword = data.toString('latin1', 0, nul);
      if (CARD_KEYWORDS.has(keyword.toLowerCase()) && length > MAX_CARD_CHUNK_TEXT) {
        throw cardTooLarge(field, `The PNG's ${keyword} chunk holds ${megabytes(length)}; a card holds at most ${megabytes(MAX_CARD_CHUNK_TEXT)}`);
      }
    }
    if (crc32(png.subarray(offset + 4, offset + 8 + length)) !== png.readUInt32BE(offset + 8 + length)) {
      throw refuse(`PNG chunk ${n} (${type}) at byte ${offset} fails its CRC check`);
    }
    chunks.push({ type, keyword, data, bytes: png.subarray(offset, offset + 12 + length) });
    offset += 12 + length;
    if (type === 'IEND') return chunks;
  }
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const textChunk = (keyword: string, text: string) => pngChunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));

// 400×600, the portrait size SillyTavern crops avatars to, in one flat colour: a card without an
// avatar still has to be a PNG that every tool can open.
let placeholderPng: Buffer | undefined;
function placeholderAvatar(): Buffer {
  if (placeholderPng) return placeholderPng;
  const width = 400;
  const height = 600;
  const row = Buffer.alloc(1 + width * 3); // filter byte 0, then RGB
  for (let x = 0; x < width; x++) row.set([0xd8, 0xdc, 0xe3], 1 + x * 3);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // truecolour RGB; compression, filter and interlace stay 0
  placeholderPng = Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(Buffer.concat(new Array<Buffer>(height).fill(row)))), pngChunk('IEND', Buffer.alloc(0))]);
  return placeholderPng;
}

// ---------------------------------------------------------------------------------------------
// Bytes → card JSON

// Standard base64 as Buffer.toString('base64') writes it; the trailing padding may be missing.
// Buffer.from(…, 'base64') skips characters it does not know, so strictness has to come first.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string, field: string): Buffer {
  const padded = text.endsWith('=');
  if (!text.length || !BASE64.test(text) || text.length % 4 === 1 || (padded && text.length % 4 !== 0)) {
    throw invalidCard(field, 'The card chunk is not valid base64');
  }
  return Buffer.from(text, 'base64');
}

function decodeUtf8(bytes: Buffer, field: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes); // drops a leading BOM
  } catch {
    throw invalidCard(field, 'The card is not valid UTF-8 text');
  }
}

function parseJsonObject(text: string, field: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidCard(field, 'The card is not valid JSON');
  }
  if (!isRecord(value)) throw invalidCard(field, 'The card must be a JSON object');
  return value;
}

function startsLikeJsonObject(bytes: Buffer): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const limit = Math.min(bytes.length, i + 1024);
  while (i < limit && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b; // '{'
}

// The card text of a PNG: `ccv3` wins over `chara` (V3 spec); with several of one keyword the
// first counts, as in SillyTavern, whose reader most cards were written for. Only tEXt is read:
// both specs embed cards in tEXt, and iTXt/zTXt would add decompression to a hostile upload.
function cardTextOfPng(png: Buffer, field: string): { text: string; avatar: Buffer; warnings: FieldIssue[] } {
  const chunks = readPngChunks(png, field, 'invalid_card');
  const texts = chunks.filter((c) => c.type === 'tEXt' && isCardChunk(c));
  const card = texts.find((c) => c.keyword!.toLowerCase() === 'ccv3') ?? texts.find((c) => c.keyword!.toLowerCase() === 'chara');
  if (!card) {
    const compressed = chunks.find(isCardChunk);
    if (compressed) throw unsupportedSpec(field, `The card is in a PNG ${compressed.type} chunk; only tEXt chunks (as the card specs define) are read`);
    throw invalidCard(field, 'The PNG holds no character card (no tEXt chunk named ccv3 or chara)');
  }
  const warnings: FieldIssue[] = [];
  if (chunks.some((c) => c.keyword?.startsWith('chara-ext-asset_'))) {
    warnings.push({ field, message: 'The PNG embeds assets (chara-ext-asset_ chunks); they are not imported' });
  }
  const avatar = Buffer.concat([PNG_SIGNATURE, ...chunks.filter((c) => !isCardChunk(c)).map((c) => c.bytes)]);
  return { text: card.data.toString('latin1', card.keyword!.length + 1), avatar, warnings };
}

// ---------------------------------------------------------------------------------------------
// Card schemas: only what we map is type-checked; the rest is kept as it came. Optional fields
// accept null, which several tools write for "unset".

const stringList = z.union([z.array(z.string()), z.string()]).nullish(); // V3 describes secondary_keys as comma-separated
const cardText = z.string().nullish();
const cardEntry = z.looseObject({
  keys: stringList,
  content: z.string(),
  extensions: z.record(z.string(), z.unknown()).nullish(),
  enabled: z.boolean().nullish(),
  insertion_order: z.number().nullish(),
  case_sensitive: z.boolean().nullish(),
  use_regex: z.boolean().nullish(),
  constant: z.boolean().nullish(),
  name: cardText,
  id: z.union([z.number(), z.string()]).nullish(),
  comment: cardText,
  selective: z.boolean().nullish(),
  secondary_keys: stringList,
  position: z.union([z.string(), z.number()]).nullish(),
});
type CardEntry = z.infer<typeof cardEntry>;
const cardBook = z.looseObject({
  scan_depth: z.number().nullish(),
  token_budget: z.number().nullish(),
  recursive_scanning: z.boolean().nullish(),
  extensions: z.record(z.string(), z.unknown()).nullish(),
  entries: z.array(cardEntry),
});
type CardBook = z.infer<typeof cardBook>;
const cardData = z.looseObject({
  name: z.string(),
  description: cardText,
  personality: cardText,
  scenario: cardText,
  first_mes: cardText,
  mes_example: cardText,
  creator_notes: cardText,
  system_prompt: cardText,
  post_history_instructions: cardText,
  alternate_greetings: z.array(z.string()).nullish(),
  character_book: cardBook.nullish(),
  tags: z.array(z.string()).nullish(),
  creator: cardText,
  character_version: cardText,
  extensions: z.record(z.string(), z.unknown()).nullish(),
});
type CardData = z.infer<typeof cardData>;
// V2 cards from before May 2023 lack spec_version; V3 requires it but asks not to refuse other values.
const cardV2Envelope = z.looseObject({ spec: z.literal('chara_card_v2'), spec_version: z.string().nullish(), data: z.unknown() });
const cardV3Envelope = z.looseObject({ spec: z.literal('chara_card_v3'), spec_version: z.string(), data: z.unknown() });

// What we write into a card's extensions, and accept back.
const ourCardExtension = z.object({
  version: z.number().int(),
  character: z.record(z.string(), z.unknown()).optional(),
  cardFields: z.record(z.string(), z.unknown()).optional(),
});
type OurCardExtension = z.infer<typeof ourCardExtension>;

// Card data fields that map onto the character (the rest is kept in extensions.card).
const MAPPED_DATA_FIELDS = ['name', 'description', 'personality', 'scenario', 'first_mes', 'mes_example', 'system_prompt', 'post_history_instructions', 'alternate_greetings', 'tags', 'character_book', 'extensions'];
// V2 fields we only keep; V3 fields V2 has no place for (carried in our extension on a V2 export).
const KEPT_V2_FIELDS = ['creator_notes', 'creator', 'character_version'];
const V3_ONLY_FIELDS = ['assets', 'nickname', 'creator_notes_multilingual', 'source', 'group_only_greetings', 'creation_date', 'modification_date'];
const MAPPED_BOOK_FIELDS = ['scan_depth', 'token_budget', 'recursive_scanning', 'entries', 'extensions'];
const MAPPED_ENTRY_FIELDS = ['keys', 'secondary_keys', 'content', 'enabled', 'insertion_order', 'case_sensitive', 'use_regex', 'constant', 'selective', 'position', 'name', 'comment', 'id', 'extensions'];

// Character fields a card has a place for, and those it can never carry: an avatar URL and a world
// setting id point into our storage and database (the card's image is the avatar; the world's text
// belongs in scenario).
const CARD_CHARACTER_FIELDS = ['name', 'description', 'personality', 'worldSetting', 'greeting', 'introductionScenes', 'exampleDialogues', 'tags', 'settings', 'lorebook'];
const NEVER_CARRIED = ['avatarUrl', 'worldSettingId'];
const OUR_CHARACTER_FIELDS = Object.keys(characterInput.shape).filter((k) => !CARD_CHARACTER_FIELDS.includes(k) && !NEVER_CARRIED.includes(k));
const OUR_SETTINGS_FIELDS = Object.keys(characterSettings.shape).filter((k) => k !== 'systemPrompt' && k !== 'customPromptTemplate');
const CARD_ENTRY_FIELDS = ['id', 'keys', 'secondaryKeys', 'selective', 'content', 'enabled', 'constant', 'caseSensitive', 'insertionOrder', 'name', 'comment'];
const OUR_ENTRY_FIELDS = Object.keys(lorebookEntry.shape).filter((k) => !CARD_ENTRY_FIELDS.includes(k)); // includes position: cards know only two
const DEFAULT_CHARACTER: CharacterInput = characterInput.parse({ name: 'default' });
const DEFAULT_ENTRY: LorebookEntry = lorebookEntry.parse({ id: 'default', content: '' });

// ---------------------------------------------------------------------------------------------
// Example dialogues: mes_example's "<START>" blocks of "{{user}}: …" / "{{char}}: …" lines.

const START_LINE = /^\s*<start>\s*$/i;
const SPEAKER = /^\s*(\{\{user\}\}|<user>|\{\{char\}\}|<bot>|<char>)\s*:\s?(.*)$/i;

// Pairs each user turn with the character turns that answer it; a turn runs until the next speaker
// line, so messages may span lines. `lossless` is false when something did not fit a pair (text
// before the first speaker, a character speaking first, a question without an answer).
export function parseExampleDialogues(text: string, characterName: string): { dialogues: ExampleDialogue[]; lossless: boolean } {
  const dialogues: ExampleDialogue[] = [];
  let lossless = true;
  const namePrefix = `${characterName.trim()}:`;
  let turns: { speaker: 'user' | 'char'; lines: string[] }[] = [];
  let stray = false;
  const flush = () => {
    let user: string[] = [];
    let answer: string[] = [];
    const emit = () => {
      const userMessage = user.join('\n').trim();
      const characterResponse = answer.join('\n').trim();
      if (userMessage && characterResponse) dialogues.push({ userMessage, characterResponse });
      else lossless = false;
    };
    for (const turn of turns) {
      const said = turn.lines.join('\n');
      if (turn.speaker === 'user') {
        if (answer.length) {
          emit();
          user = [];
          answer = [];
        }
        user.push(said);
      } else if (user.length) answer.push(said);
      else lossless = false;
    }
    if (user.length) emit();
    if (stray) lossless = false;
    turns = [];
    stray = false;
  };
  for (const line of text.split(/\r?\n/)) {
    if (START_LINE.test(line)) {
      flush();
      continue;
    }
    const labelled = SPEAKER.exec(line);
    if (labelled) {
      turns.push({ speaker: /user/i.test(labelled[1]) ? 'user' : 'char', lines: [labelled[2]] });
    } else if (characterName.trim() && line.trimStart().startsWith(namePrefix)) {
      turns.push({ speaker: 'char', lines: [line.trimStart().slice(namePrefix.length).replace(/^\s/, '')] });
    } else if (turns.length) {
      turns[turns.length - 1].lines.push(line);
    } else if (line.trim()) {
      stray = true;
    }
  }
  flush();
  return { dialogues, lossless };
}

export function formatExampleDialogues(dialogues: ExampleDialogue[]): string {
  return dialogues.map((d) => `<START>\n{{user}}: ${d.userMessage}\n{{char}}: ${d.characterResponse}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Lorebook entries

// SillyTavern keeps what the card spec cannot say in each entry's extensions; reading it makes its
// cards (most of those in circulation) import with their real positions and logic. Values outside
// our ranges are ignored, not refused: they are hints, and they stay in the kept extensions.
const ST_POSITIONS = new Map<number, Position>([[0, 'before_char'], [1, 'after_char'], [4, 'at_depth'], [5, 'before_examples'], [6, 'after_examples']]);
const ST_POSITION_OF: Record<Position, number> = { before_char: 0, after_char: 1, at_depth: 4, before_examples: 5, after_examples: 6 };
const ST_LOGIC: SelectiveLogic[] = ['and_any', 'not_all', 'not_any', 'and_all'];
const intIn = (min: number, max: number) => (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined);
const boolean = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
const same = (v: unknown) => v;
type StHint = { st: string; ours: keyof LorebookEntry; read: (v: unknown) => unknown; write: (v: unknown) => unknown };
const ST_HINTS: StHint[] = [
  { st: 'depth', ours: 'depth', read: intIn(0, 100), write: same },
  { st: 'selectiveLogic', ours: 'selectiveLogic', read: (v) => (typeof v === 'number' && Number.isInteger(v) ? ST_LOGIC[v] : undefined), write: (v) => ST_LOGIC.indexOf(v as SelectiveLogic) },
  // null is "the global setting", whose default in SillyTavern is off; that default is what an
  // author who left it alone saw, and whole-word matching misses Korean words with particles attached.
  { st: 'match_whole_words', ours: 'matchWholeWords', read: (v) => (v === null ? false : boolean(v)), write: same },
  { st: 'scan_depth', ours: 'scanDepth', read: intIn(0, 100), write: (v) => v ?? null },
  { st: 'cooldown', ours: 'cooldown', read: intIn(0, 1000), write: same },
  { st: 'vectorized', ours: 'semantic', read: boolean, write: same },
  { st: 'case_sensitive', ours: 'caseSensitive', read: boolean, write: same },
];

// Cards place an entry before or after the character; ours can also go around the examples or
// into the history, which a card can only approximate as "after".
const cardPositionOf = (position: Position): 'before_char' | 'after_char' => (position === 'before_char' ? 'before_char' : 'after_char');
const stPositionMeaning = (v: unknown): Position | undefined => (typeof v === 'number' ? ST_POSITIONS.get(v) : undefined);

function keyList(value: string[] | string | null | undefined): string[] {
  const list = typeof value === 'string' ? value.split(',') : (value ?? []);
  return list.filter((k) => k.trim() !== '');
}

// An entry's fields as the card (and SillyTavern's hints in it) say, before our own extension.
function entryFromCard(entry: CardEntry, keys: { keys: string[]; secondaryKeys: string[]; caseSensitive?: boolean; matchWholeWords?: boolean }): Json {
  const hints = isRecord(entry.extensions) ? entry.extensions : {};
  const position = entry.position === 'after_char' ? 'after_char' : 'before_char';
  const fields: Json = {
    name: entry.name ?? undefined,
    comment: entry.comment ?? undefined,
    keys: keys.keys,
    secondaryKeys: keys.secondaryKeys,
    selective: entry.selective ?? undefined,
    content: entry.content,
    enabled: entry.enabled ?? undefined,
    constant: entry.constant ?? undefined,
    caseSensitive: keys.caseSensitive ?? entry.case_sensitive ?? undefined,
    matchWholeWords: keys.matchWholeWords,
    insertionOrder: entry.insertion_order ?? undefined,
    position,
  };
  for (const hint of ST_HINTS) {
    if (fields[hint.ours] !== undefined) continue;
    fields[hint.ours] = hint.read(hints[hint.st]);
  }
  // A hint that contradicts the card's own position was left stale by another editor: the card wins.
  const stPosition = stPositionMeaning(hints.position);
  if (stPosition && cardPositionOf(stPosition) === position) fields.position = stPosition;
  return compact(fields);
}

// With use_regex, V3 says every key is a regular expression; SillyTavern writes use_regex: true
// on all its entries and treats only keys written /like this/flags as expressions. We take a key
// as plain text when it is: a bare key without regex syntax (a '.' is read as a full stop), or a
// /pattern/ that only matches plain text (literal characters, escaped punctuation, one group of
// alternatives, \b…\b around it, the i flag). An entry with any other key is set aside: kept for
// export, not run, and reported. Returns null for such an entry.
function plainKeysOfRegexEntry(
  keys: string[],
  secondaryKeys: string[],
  plain: { caseSensitive: boolean; matchWholeWords: boolean },
): { keys: string[]; secondaryKeys: string[]; caseSensitive?: boolean; matchWholeWords?: boolean; converted: boolean } | null {
  const literal = (body: string, metacharacters: string) => {
    const alternatives = [''];
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === '\\') {
        const next = body[i + 1];
        if (next === undefined || /[A-Za-z0-9]/.test(next)) return null; // \d, \w, \b, \1, …
        alternatives[alternatives.length - 1] += next;
        i++;
      } else if (c === '|' && metacharacters.includes('|')) alternatives.push('');
      else if (metacharacters.includes(c)) return null;
      else alternatives[alternatives.length - 1] += c;
    }
    return alternatives.some((a) => !a.trim()) ? null : alternatives;
  };
  const read = (key: string) => {
    const slashed = /^\/(.+)\/([a-z]*)$/s.exec(key);
    if (!slashed) {
      const text = literal(key, '^$?*+()[]{}|');
      return text && { alternatives: text, semantics: undefined };
    }
    let [, body] = slashed;
    const flags = slashed[2];
    if (!/^[gimsu]*$/.test(flags)) return null;
    let wholeWords = false;
    if (body.length > 4 && body.startsWith('\\b') && body.endsWith('\\b')) {
      wholeWords = true;
      body = body.slice(2, -2);
    }
    const group = /^\((?:\?:)?(.*)\)$/s.exec(body);
    if (group) body = group[1];
    const text = literal(body, '^$.?*+()[]{}|');
    if (!text || (wholeWords && text.length > 1 && !group)) return null; // \ba|b\b bounds only the outer ends
    return { alternatives: text, semantics: { caseSensitive: !flags.includes('i'), matchWholeWords: wholeWords } };
  };
  const readings = [...keys, ...secondaryKeys].map(read);
  if (readings.some((r) => r === null)) return null;
  const parsed = readings as NonNullable<ReturnType<typeof read>>[];
  const expressions = parsed.flatMap((r) => (r.semantics ? [r.semantics] : []));
  const semantics = expressions[0];
  // One entry has one case rule and one word rule; the keys must agree on them.
  if (expressions.some((e) => !isDeepStrictEqual(e, semantics))) return null;
  if (semantics && expressions.length < parsed.length && !isDeepStrictEqual(semantics, plain)) return null;
  return {
    keys: parsed.slice(0, keys.length).flatMap((r) => r.alternatives),
    secondaryKeys: parsed.slice(keys.length).flatMap((r) => r.alternatives),
    ...(semantics ?? {}),
    converted: semantics !== undefined,
  };
}

const INTEGER_ID = /^-?(0|[1-9]\d{0,14})$/;
// V2 types entry ids as numbers, V3 as numbers or strings; an id a V2 card cannot hold travels in
// our extension instead.
const cardIdOf = (id: string, spec: 'v2' | 'v3'): number | string | undefined => (INTEGER_ID.test(id) ? Number(id) : spec === 'v3' ? id : undefined);

// ---------------------------------------------------------------------------------------------
// Import

type Imported = { character: Json; extensions: CardExtensions; entrySources: number[] };

function lorebookFromCard(book: CardBook, at: string, extensions: CardExtensions, warnings: FieldIssue[]): { lorebook: Json; entrySources: number[] } {
  const mapped: { fields: Json; source: number; ours: Json | undefined; kept: Json; cardId: string | undefined; cardPosition: string }[] = [];
  const unsupported: Json[] = [];
  book.entries.forEach((entry, index) => {
    const where = `${at}.entries.${index}`;
    let keys: Parameters<typeof entryFromCard>[1] = { keys: keyList(entry.keys), secondaryKeys: keyList(entry.secondary_keys) };
    if (entry.use_regex) {
      const asPlain = lorebookEntry.safeParse({ ...entryFromCard(entry, keys), id: 'x' });
      const plain = asPlain.success ? asPlain.data : DEFAULT_ENTRY;
      const literal = plainKeysOfRegexEntry(keys.keys, keys.secondaryKeys, { caseSensitive: plain.caseSensitive, matchWholeWords: plain.matchWholeWords });
      if (!literal) {
        unsupported.push(entry);
        warnings.push({ field: `${where}.keys`, message: 'Uses regular-expression keys, which our lorebook does not run: kept for export, not used' });
        return;
      }
      const { converted, ...plainKeys } = literal;
      keys = plainKeys;
      if (converted) warnings.push({ field: `${where}.keys`, message: 'Regular-expression keys that only match plain text were imported as plain keys' });
    }
    if (/^@@[a-z_]+/m.test(entry.content)) {
      warnings.push({ field: `${where}.content`, message: 'V3 decorators (@@…) are not interpreted; they stay in the content' });
    }
    const hints = isRecord(entry.extensions) ? entry.extensions : {};
    const ours = hints[CARD_EXTENSION_KEY];
    if (ours !== undefined && !isRecord(ours)) throw invalidCard(`${where}.extensions.${CARD_EXTENSION_KEY}`, 'Must be an object');
    const fields = entryFromCard(entry, keys);
    const kept = without(entry, MAPPED_ENTRY_FIELDS);
    const foreign = without(hints, [CARD_EXTENSION_KEY]);
    if (Object.keys(foreign).length) kept.extensions = foreign;
    const cardId = entry.id === null || entry.id === undefined ? undefined : String(entry.id).trim();
    mapped.push({ fields, source: index, ours, kept, cardId, cardPosition: fields.position === 'before_char' ? 'before_char' : 'after_char' });
  });

  // Ids: ours (from our extension) first, then the card's, then the smallest free integers.
  const used = new Set<string>();
  const claim = (id: unknown) => {
    if (typeof id !== 'string' || !id.trim() || id.length > 64 || used.has(id)) return undefined;
    used.add(id);
    return id;
  };
  for (const m of mapped) m.fields.id = claim(m.ours?.id);
  for (const m of mapped) m.fields.id ??= claim(m.cardId);
  let next = 0;
  for (const m of mapped) {
    while (m.fields.id === undefined) m.fields.id = claim(String(next++));
  }

  for (const m of mapped) {
    if (!m.ours) continue;
    for (const key of OUR_ENTRY_FIELDS) {
      if (!Object.hasOwn(m.ours, key)) continue;
      const value = m.ours[key];
      // Our finer position holds only while the card still says what we wrote for it.
      if (key === 'position' && (typeof value !== 'string' || !Object.hasOwn(ST_POSITION_OF, value) || cardPositionOf(value as Position) !== m.cardPosition)) continue;
      m.fields[key] = value;
    }
  }

  const keptEntries = mapped.filter((m) => Object.keys(m.kept).length).map((m) => [m.fields.id as string, m.kept] as const);
  if (keptEntries.length) extensions.entries = Object.fromEntries(keptEntries);
  if (unsupported.length) extensions.unsupportedEntries = unsupported;
  const keptBook = without(book, MAPPED_BOOK_FIELDS);
  if (isRecord(book.extensions) && Object.keys(book.extensions).length) keptBook.extensions = book.extensions;
  if (Object.keys(keptBook).length) extensions.book = keptBook;

  const lorebook = compact({
    scanDepth: book.scan_depth ?? undefined,
    tokenBudget: book.token_budget ?? undefined,
    recursiveScanning: book.recursive_scanning ?? undefined,
    entries: mapped.map((m) => m.fields),
  });
  return { lorebook, entrySources: mapped.map((m) => m.source) };
}

// V3 asks a V2 copy of a V3 card (the PNG's chara chunk) to say so in its creator notes; we write
// that notice into our own V2 copies and take it out when one is imported.
const V3_BACKFILL_NOTICE = 'This character card is Character Card V3, but it is loaded as a Character Card V2. Please use a Character Card V3 compatible application to use this character card properly.';
const withoutBackfillNotice = (notes: string) => (notes.startsWith(V3_BACKFILL_NOTICE) ? notes.slice(V3_BACKFILL_NOTICE.length).replace(/^\s+/, '') : notes);

function characterFromCard(data: CardData, at: string, warnings: FieldIssue[]): Imported {
  const dataExtensions = data.extensions ?? {};
  let ours: OurCardExtension | undefined;
  if (Object.hasOwn(dataExtensions, CARD_EXTENSION_KEY)) {
    const parsed = ourCardExtension.safeParse(dataExtensions[CARD_EXTENSION_KEY]);
    if (!parsed.success) throw invalidCardIssues(zodIssues(parsed.error, () => `${at}.extensions.${CARD_EXTENSION_KEY}`));
    if (parsed.data.version === CARD_EXTENSION_VERSION) ours = parsed.data;
    else warnings.push({ field: `${at}.extensions.${CARD_EXTENSION_KEY}.version`, message: 'Written by a newer version of this app; ignored' });
  }

  const name = data.name;
  const mesExample = data.mes_example ?? '';
  const examples = parseExampleDialogues(mesExample, name);
  if (!examples.lossless) {
    warnings.push({ field: `${at}.mes_example`, message: 'Parts that are not {{user}} / {{char}} exchanges are kept for export but not used' });
  }

  const extensions: CardExtensions = {};
  const keptCard: Json = { ...only(ours?.cardFields ?? {}, V3_ONLY_FIELDS), ...without(data, MAPPED_DATA_FIELDS) };
  if (typeof keptCard.creator_notes === 'string') keptCard.creator_notes = withoutBackfillNotice(keptCard.creator_notes);
  // Empty values are what export writes anyway; keeping them would only fill the column.
  for (const key of KEPT_V2_FIELDS) if (keptCard[key] === '' || keptCard[key] === null) delete keptCard[key];
  if (Array.isArray(keptCard.group_only_greetings) && !keptCard.group_only_greetings.length) delete keptCard.group_only_greetings;
  if (mesExample && formatExampleDialogues(examples.dialogues) !== mesExample) keptCard.mes_example = mesExample;
  const foreign = without(dataExtensions, [CARD_EXTENSION_KEY]);
  if (Object.keys(foreign).length) keptCard.extensions = foreign;
  if (Object.keys(keptCard).length) extensions.card = keptCard;
  if (typeof data.nickname === 'string' && data.nickname.trim()) warnings.push({ field: `${at}.nickname`, message: 'Kept for export; {{char}} is the name here' });
  if (Array.isArray(data.group_only_greetings) && data.group_only_greetings.length) warnings.push({ field: `${at}.group_only_greetings`, message: 'Kept for export; there are no group chats here' });
  if (Array.isArray(data.assets) && data.assets.some((a) => !(isRecord(a) && a.uri === 'ccdefault:'))) warnings.push({ field: `${at}.assets`, message: 'Kept for export, not loaded' });

  const character: Json = compact({
    name,
    description: nonBlank(data.description),
    personality: nonBlank(data.personality),
    worldSetting: nonBlank(data.scenario),
    greeting: nonBlank(data.first_mes),
    introductionScenes: data.alternate_greetings ?? [],
    tags: (data.tags ?? []).filter((t) => t.trim() !== ''),
    exampleDialogues: examples.dialogues,
    settings: compact({ systemPrompt: nonBlank(data.system_prompt), customPromptTemplate: nonBlank(data.post_history_instructions) }),
  });
  let entrySources: number[] = [];
  if (data.character_book) {
    const book = lorebookFromCard(data.character_book, `${at}.character_book`, extensions, warnings);
    character.lorebook = book.lorebook;
    entrySources = book.entrySources;
  }

  const carried = ours?.character;
  if (carried) {
    for (const key of OUR_CHARACTER_FIELDS) if (Object.hasOwn(carried, key)) character[key] = carried[key];
    if (isRecord(carried.settings)) character.settings = { ...(character.settings as Json), ...only(carried.settings, OUR_SETTINGS_FIELDS) };
    // Exchanges our text format cannot say unambiguously; they hold while mes_example is as we wrote it.
    const dialogues = z.array(z.object({ userMessage: z.string(), characterResponse: z.string() })).safeParse(carried.exampleDialogues);
    if (dialogues.success && formatExampleDialogues(dialogues.data) === mesExample) character.exampleDialogues = dialogues.data;
  }
  return { character, extensions, entrySources };
}

// Names a character field by where it came from in the card.
function cardFieldOf(path: PropertyKey[], at: string, entrySources: number[]): string {
  const [head, ...rest] = path.map(String);
  const ours = (...parts: string[]) => [at, 'extensions', CARD_EXTENSION_KEY, 'character', ...parts].join('.');
  const card = (...parts: string[]) => [at, ...parts].join('.');
  const direct: Record<string, string> = { name: 'name', description: 'description', personality: 'personality', worldSetting: 'scenario', greeting: 'first_mes', exampleDialogues: 'mes_example', tags: 'tags' };
  if (Object.hasOwn(direct, head)) return card(direct[head]);
  if (head === 'introductionScenes') return card('alternate_greetings', ...rest);
  if (head === 'settings') {
    if (rest[0] === 'systemPrompt') return card('system_prompt');
    if (rest[0] === 'customPromptTemplate') return card('post_history_instructions');
    return ours(head, ...rest);
  }
  if (head === 'lorebook') {
    const book: Record<string, string> = { scanDepth: 'scan_depth', tokenBudget: 'token_budget', recursiveScanning: 'recursive_scanning' };
    if (Object.hasOwn(book, rest[0])) return card('character_book', book[rest[0]]);
    if (rest[0] === 'entries' && rest.length >= 3) {
      const source = String(entrySources[Number(rest[1])] ?? rest[1]);
      const entry: Record<string, string> = { keys: 'keys', secondaryKeys: 'secondary_keys', content: 'content', name: 'name', comment: 'comment', insertionOrder: 'insertion_order', id: 'id' };
      const field = rest[2];
      return Object.hasOwn(entry, field) ? card('character_book', 'entries', source, entry[field], ...rest.slice(3)) : card('character_book', 'entries', source, 'extensions', CARD_EXTENSION_KEY, ...rest.slice(2));
    }
    return card('character_book', ...rest);
  }
  return ours(head, ...rest);
}

function zodIssues(error: z.ZodError, fieldOf: (path: PropertyKey[]) => string): FieldIssue[] {
  return error.issues.slice(0, 20).map((issue) => ({ field: fieldOf(issue.path), message: issue.message }));
}

// Reads a character card from a JSON or PNG file. The format is told by the bytes (a PNG starts
// with its signature), never by the declared content type, which the uploader controls. `field`
// names the upload in errors ('card' unless told).
export function parseCard(input: { bytes: Buffer; contentType?: string; field?: string }): ParsedCard {
  const field = input.field ?? 'card';
  const { bytes } = input;
  if (bytes.length > CARD_LIMITS.fileBytes) throw cardTooLarge(field, `A card file holds at most ${megabytes(CARD_LIMITS.fileBytes)}; this one has ${megabytes(bytes.length)}`);

  const warnings: FieldIssue[] = [];
  let json: Json;
  let avatar: Buffer | undefined;
  if (bytes.length >= PNG_SIGNATURE.length && bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    const png = cardTextOfPng(bytes, field);
    warnings.push(...png.warnings);
    avatar = png.avatar;
    json = parseJsonObject(decodeUtf8(decodeBase64(png.text, field), field), field);
  } else if (startsLikeJsonObject(bytes)) {
    if (bytes.length > CARD_LIMITS.jsonBytes) throw cardTooLarge(field, `A JSON card holds at most ${megabytes(CARD_LIMITS.jsonBytes)}; this one has ${megabytes(bytes.length)}`);
    json = parseJsonObject(decodeUtf8(bytes, field), field);
  } else if (bytes.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) {
    throw badRequest('unsupported_card_format', 'CHARX (zip) cards are not supported; export the card as PNG or JSON', field);
  } else {
    const declared = input.contentType ? ` (declared as ${input.contentType.slice(0, 60)})` : '';
    throw badRequest('unsupported_card_format', `The file${declared} is neither a PNG nor a JSON character card`, field);
  }

  // Strings Postgres refuses (NUL, lone surrogates) never reach the character or its extensions.
  const hostile = hostileStrings(json, field, [field]);
  if (hostile.length) throw invalidCardIssues(hostile);

  let spec: CardSpec;
  let data: unknown;
  let at: string;
  if (json.spec === 'chara_card_v3' || json.spec === 'chara_card_v2') {
    const envelope = (json.spec === 'chara_card_v3' ? cardV3Envelope : cardV2Envelope).safeParse(json);
    if (!envelope.success) throw invalidCardIssues(zodIssues(envelope.error, (path) => [field, ...path.map(String)].join('.')));
    spec = json.spec;
    data = json.data;
    at = `${field}.data`;
  } else if (json.spec === undefined && json.data === undefined) {
    // V1: the six fields at the top level. V2 nests the same fields in `data`, so it maps the same way.
    if (typeof json.name !== 'string') throw invalidCard(`${field}.spec`, 'Not a character card: it has neither a spec nor a name');
    spec = 'chara_card_v1';
    data = json;
    at = field;
  } else {
    const said = typeof json.spec === 'string' ? `"${json.spec.slice(0, 40)}"` : json.spec === undefined ? 'none' : typeof json.spec;
    throw unsupportedSpec(`${field}.spec`, `Character cards are chara_card_v2 or chara_card_v3 (or V1, without spec); this one says ${said}`);
  }

  const parsedData = cardData.safeParse(data);
  if (!parsedData.success) throw invalidCardIssues(zodIssues(parsedData.error, (path) => [at, ...path.map(String)].join('.')));
  const imported = characterFromCard(parsedData.data, at, warnings);
  const character = characterInput.safeParse(imported.character);
  if (!character.success) throw invalidCardIssues(zodIssues(character.error, (path) => cardFieldOf(path, at, imported.entrySources)));
  const ids = new Set<string>();
  for (const [i, entry] of (character.data.lorebook?.entries ?? []).entries()) {
    if (ids.has(entry.id)) throw invalidCard(cardFieldOf(['lorebook', 'entries', i, 'id'], at, imported.entrySources), `Another entry already has the id "${entry.id}"`);
    ids.add(entry.id);
  }
  return { character: character.data, extensions: imported.extensions, spec, ...(avatar ? { avatar } : {}), warnings };
}

// ---------------------------------------------------------------------------------------------
// Export

// SillyTavern's own keys in an entry's extensions, brought up to date where they say something
// else than the entry now does (a key that already agrees, or that we cannot read, is left as is).
function updatedStHints(kept: Json, entry: LorebookEntry): Json {
  const hints = { ...kept };
  for (const hint of ST_HINTS) {
    if (!Object.hasOwn(hints, hint.st)) continue;
    const meaning = hint.read(hints[hint.st]);
    if (meaning !== undefined && !isDeepStrictEqual(meaning, entry[hint.ours])) hints[hint.st] = hint.write(entry[hint.ours]);
  }
  if (typeof hints.position === 'number') {
    const meaning = stPositionMeaning(hints.position) ?? (hints.position === 0 ? 'before_char' : 'after_char');
    if (meaning !== entry.position) hints.position = ST_POSITION_OF[entry.position];
  }
  return hints;
}

function cardEntryOf(entry: LorebookEntry, kept: Json | undefined, spec: 'v2' | 'v3'): Json {
  const keptFields = without(kept ?? {}, MAPPED_ENTRY_FIELDS);
  const hints = updatedStHints(isRecord(kept?.extensions) ? without(kept.extensions, [CARD_EXTENSION_KEY]) : {}, entry);
  const id = cardIdOf(entry.id, spec);
  const written: Json = compact({
    ...keptFields,
    id,
    keys: entry.keys,
    secondary_keys: entry.secondaryKeys,
    content: entry.content,
    enabled: entry.enabled,
    insertion_order: entry.insertionOrder,
    case_sensitive: entry.caseSensitive,
    constant: entry.constant,
    selective: entry.selective,
    position: cardPositionOf(entry.position),
    name: entry.name,
    comment: entry.comment,
    use_regex: spec === 'v3' ? false : undefined,
    extensions: hints,
  });
  // Our extension holds what import would not get back from the card alone.
  const derived = lorebookEntry.safeParse({ ...entryFromCard(cardEntry.parse(written), { keys: entry.keys, secondaryKeys: entry.secondaryKeys }), id: entry.id });
  const ours: Json = {};
  if (id === undefined || String(id) !== entry.id) ours.id = entry.id;
  for (const key of OUR_ENTRY_FIELDS) {
    const value = entry[key as keyof LorebookEntry];
    if (value !== undefined && !(derived.success && isDeepStrictEqual(value, derived.data[key as keyof LorebookEntry]))) ours[key] = value;
  }
  if (Object.keys(ours).length) written.extensions = { ...hints, [CARD_EXTENSION_KEY]: ours };
  return written;
}

function cardBookOf(lorebook: Lorebook, kept: CardExtensions, spec: 'v2' | 'v3'): Json {
  const keptBook = kept.book ?? {};
  const keptEntries = kept.entries ?? {};
  return {
    ...without(keptBook, MAPPED_BOOK_FIELDS),
    scan_depth: lorebook.scanDepth,
    token_budget: lorebook.tokenBudget,
    recursive_scanning: lorebook.recursiveScanning,
    extensions: isRecord(keptBook.extensions) ? keptBook.extensions : {},
    entries: [...lorebook.entries.map((e) => cardEntryOf(e, Object.hasOwn(keptEntries, e.id) ? keptEntries[e.id] : undefined, spec)), ...(kept.unsupportedEntries ?? [])],
  };
}

function cardOf(character: CharacterInput, kept: CardExtensions, spec: 'v2', opts?: { v3Notice?: boolean }): CardV2;
function cardOf(character: CharacterInput, kept: CardExtensions, spec: 'v3'): CardV3;
function cardOf(character: CharacterInput, kept: CardExtensions, spec: 'v2' | 'v3', opts: { v3Notice?: boolean } = {}): CardV2 | CardV3 {
  const keptCard = kept.card ?? {};
  const keptFields = without(keptCard, [...MAPPED_DATA_FIELDS, ...KEPT_V2_FIELDS]);
  const foreignExtensions = isRecord(keptCard.extensions) ? without(keptCard.extensions, [CARD_EXTENSION_KEY]) : {};
  // A mes_example we could not read fully goes back as it came, unless the exchanges were edited since.
  const keptMesExample = keptCard.mes_example;
  const mesExample =
    typeof keptMesExample === 'string' && isDeepStrictEqual(parseExampleDialogues(keptMesExample, character.name).dialogues, character.exampleDialogues)
      ? keptMesExample
      : formatExampleDialogues(character.exampleDialogues);

  const ours: Json = {};
  const carried: Json = {};
  for (const key of OUR_CHARACTER_FIELDS) {
    const value = character[key as keyof CharacterInput];
    if (value !== undefined && !isDeepStrictEqual(value, DEFAULT_CHARACTER[key as keyof CharacterInput])) carried[key] = value;
  }
  const settings: Json = {};
  for (const key of OUR_SETTINGS_FIELDS) {
    const value = character.settings[key as keyof CharacterInput['settings']];
    if (value !== undefined && !isDeepStrictEqual(value, DEFAULT_CHARACTER.settings[key as keyof CharacterInput['settings']])) settings[key] = value;
  }
  if (Object.keys(settings).length) carried.settings = settings;
  if (!isDeepStrictEqual(parseExampleDialogues(mesExample, character.name).dialogues, character.exampleDialogues)) carried.exampleDialogues = character.exampleDialogues;
  if (Object.keys(carried).length) ours.character = carried;
  const v3Fields = spec === 'v2' ? only(keptFields, V3_ONLY_FIELDS) : {};
  if (Object.keys(v3Fields).length) ours.cardFields = v3Fields;

  const creatorNotes = textOrEmpty(keptCard.creator_notes);
  const data: Json & { name: string } = {
    ...(spec === 'v2' ? without(keptFields, V3_ONLY_FIELDS) : keptFields),
    name: character.name,
    description: character.description ?? '',
    personality: character.personality ?? '',
    scenario: character.worldSetting ?? '',
    first_mes: character.greeting ?? '',
    mes_example: mesExample,
    creator_notes: opts.v3Notice ? [V3_BACKFILL_NOTICE, creatorNotes].filter(Boolean).join('\n\n') : creatorNotes,
    system_prompt: character.settings.systemPrompt ?? '',
    post_history_instructions: character.settings.customPromptTemplate ?? '',
    alternate_greetings: character.introductionScenes,
    tags: character.tags,
    creator: textOrEmpty(keptCard.creator),
    character_version: textOrEmpty(keptCard.character_version),
    extensions: Object.keys(ours).length ? { ...foreignExtensions, [CARD_EXTENSION_KEY]: { version: CARD_EXTENSION_VERSION, ...ours } } : foreignExtensions,
  };
  if (character.lorebook) data.character_book = cardBookOf(character.lorebook, kept, spec);
  if (spec === 'v2') return { spec: 'chara_card_v2', spec_version: '2.0', data };
  if (!Array.isArray(data.group_only_greetings)) data.group_only_greetings = [];
  return { spec: 'chara_card_v3', spec_version: '3.0', data };
}

// Writes a character as a card: a V2 or V3 object (serialise it as JSON), or a PNG carrying both,
// V2 in `chara` for older tools and V3 in `ccv3`. The PNG is the given avatar (a PNG; convert other
// formats first) with any card chunks it had replaced, or a plain placeholder image.
export function exportCard(character: CardCharacter, format: 'v2', avatar?: Buffer): CardV2;
export function exportCard(character: CardCharacter, format: 'v3', avatar?: Buffer): CardV3;
export function exportCard(character: CardCharacter, format: 'png', avatar?: Buffer): Buffer;
export function exportCard(character: CardCharacter, format: CardFormat, avatar?: Buffer): CardV2 | CardV3 | Buffer;
export function exportCard(character: CardCharacter, format: CardFormat, avatar?: Buffer): CardV2 | CardV3 | Buffer {
  // Stored extensions that do not have our shape are ignored rather than failing the export.
  const kept = cardExtensions.safeParse(character.extensions ?? {}).data ?? {};
  if (format === 'v2') return cardOf(character, kept, 'v2');
  if (format === 'v3') return cardOf(character, kept, 'v3');

  const image = avatar ?? placeholderAvatar();
  if (image.length < PNG_SIGNATURE.length || !image.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) {
    throw badRequest('invalid_avatar', 'The avatar of a PNG card must be a PNG', 'avatar');
  }
  const chunks = readPngChunks(image, 'avatar', 'invalid_avatar').filter((c) => !isCardChunk(c));
  const end = chunks.pop()!; // IEND: readPngChunks stops there
  const base64 = (card: CardV2 | CardV3) => Buffer.from(JSON.stringify(card), 'utf8').toString('base64');
  return Buffer.concat([
    PNG_SIGNATURE,
    ...chunks.map((c) => c.bytes),
    textChunk('chara', base64(cardOf(character, kept, 'v2', { v3Notice: true }))),
    textChunk('ccv3', base64(cardOf(character, kept, 'v3'))),
    end.bytes,
  ]);
}
