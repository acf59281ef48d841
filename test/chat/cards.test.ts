import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { AppError } from '../../services/errors.ts';
import { CARD_EXTENSION_KEY, exportCard, parseCard } from '../../services/chat/cards.ts';
import { characterInput, type CharacterInput } from '../../services/chat/schemas.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cards/${name}`, import.meta.url));
const fixtureJson = (name: string) => JSON.parse(fixture(name).toString('utf8'));
const jsonBytes = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');
const base64Json = (value: unknown) => jsonBytes(value).toString('base64');

// PNG bytes written here by hand, independently of the code under test, the way other tools lay them out.
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function chunk(type: string, data: Buffer, opts: { declaredLength?: number; crc?: number } = {}): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(opts.declaredLength ?? data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(opts.crc ?? crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
const tEXt = (keyword: string, text: string) => chunk('tEXt', Buffer.from(`${keyword}\0${text}`, 'latin1'));
// A real image from another encoder, with extra chunks spliced in right after IHDR (8 + 25 bytes).
async function pngWith(...extra: Buffer[]): Promise<Buffer> {
  const image = await sharp({ create: { width: 64, height: 96, channels: 3, background: { r: 200, g: 120, b: 40 } } }).png().toBuffer();
  return Buffer.concat([image.subarray(0, 33), ...extra, image.subarray(33)]);
}
function textChunksOf(png: Buffer): { keyword: string; text: string }[] {
  const found: { keyword: string; text: string }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      found.push({ keyword: data.toString('latin1', 0, nul), text: data.toString('latin1', nul + 1) });
    }
    at += 12 + length;
  }
  return found;
}

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the card to be refused');
}
function expectRefused(run: () => unknown, code: string, field?: string): AppError {
  const err = refusal(run);
  expect(err.status, err.message).to.equal(400);
  expect(err.code, err.message).to.equal(code);
  if (field) expect(err.issues.map((i) => i.field), err.message).to.include(field);
  return err;
}

const minimalV2 = (data: Record<string, unknown>) => ({ spec: 'chara_card_v2', spec_version: '2.0', data: { name: 'Mina', ...data } });

// Every field of ours set away from its default, and a lorebook that uses every position.
const rich: CharacterInput = characterInput.parse({
  name: '윤하늘',
  description: '{{char}} is a lighthouse keeper on a small island off Tongyeong.',
  personality: 'quiet, observant, kind',
  backgroundStory: 'Took over the lighthouse from her grandfather at nineteen.',
  speechStyle: '반말, short sentences',
  greeting: '*The lamp turns overhead.* You came by boat? In this wind?',
  worldSetting: 'A storm is coming in from the south.',
  userDisplayDescription: 'A lighthouse keeper who knows every ship by its lights.',
  useCustomDescription: true,
  introductionScenes: ['The ferry is cancelled again.', '*She hands you a towel.* Sit by the stove.'],
  characterType: 'slice-of-life',
  baseLanguage: 'ko',
  imageDescriptions: ['short black hair, yellow raincoat'],
  voiceSettings: { voice: 'nova', speed: 1.1, pitch: -2 },
  hasAffinitySystem: true,
  affinityRules: [{ trigger: '고마워', delta: 5, description: 'thanks' }],
  affinityStages: [{ name: 'stranger', minScore: 0 }, { name: 'friend', minScore: 50, description: 'shares her tea' }],
  useTranslation: true,
  isPublic: false,
  isActive: true,
  tags: ['lighthouse', 'island', '힐링'],
  settings: {
    systemPrompt: 'You are {{char}}. Keep replies under 120 words.',
    temperature: 0.7,
    maxTokens: 900,
    aiModel: 'gpt-4o-mini',
    customPromptTemplate: 'Never describe {{user}}’s actions.',
    useMemory: false,
    memoryLength: 30,
    responseStyle: 'short',
  },
  exampleDialogues: [
    { userMessage: 'Is the lamp always on?', characterResponse: 'From dusk to dawn.\n*She checks the clock.* Forty minutes to go.' },
    { userMessage: '무섭지 않아요?', characterResponse: '바다는 무섭지. 그래서 불을 켜는 거야.' },
  ],
  lorebook: {
    scanDepth: 6,
    tokenBudget: 1500,
    recursiveScanning: true,
    entries: [
      { id: '1', name: 'Lighthouse', comment: 'the building', keys: ['lighthouse', '등대'], content: 'A white tower, 23 m tall, built in 1954.', insertionOrder: 200 },
      { id: '2', keys: ['ferry'], secondaryKeys: ['cancel', 'storm'], selective: true, selectiveLogic: 'not_any', content: 'The ferry runs twice a day when the sea allows.', position: 'after_char', caseSensitive: true },
      { id: '3', keys: ['grandfather', '할아버지'], content: 'He kept the light for forty years.', position: 'at_depth', depth: 2, cooldown: 2, matchWholeWords: false, scanDepth: 3 },
      { id: 'harbor-night', keys: ['harbor'], content: 'At night the harbor is empty but for one fishing boat.', position: 'before_examples', semantic: true, semanticThreshold: 0.7, enabledBy: ['1'], insertionOrder: -5 },
      { id: '5', keys: [], content: 'The island has no shop; supplies come by ferry.', position: 'after_examples', constant: true, enabled: false },
    ],
  },
});

describe('chat: character cards', () => {
  describe('import', () => {
    it('reads a SillyTavern V2 card: its fields, example dialogues, and lorebook with SillyTavern’s own entry settings', () => {
      const { character, spec, avatar, warnings } = parseCard({ bytes: fixture('v2-sillytavern.json') });
      expect(spec).to.equal('chara_card_v2');
      expect(avatar).to.equal(undefined);
      expect(warnings).to.deep.equal([]);
      expect(character).to.deep.include({
        name: 'Han Seo-yeon',
        personality: 'warm, teasing, stubborn',
        worldSetting: '{{user}} walks into the café ten minutes before closing on a rainy night.',
        greeting: "*Seo-yeon looks up from the espresso machine.* We're closing soon, you know.",
        introductionScenes: ["*The bell above the door rings.* Oh! It's you again.", "*She is wiping the counter.* Sit anywhere, I'll bring the usual."],
        tags: ['barista', 'slice of life', 'korean'],
      });
      expect(character.settings).to.include({
        systemPrompt: "{{original}}\nWrite {{char}}'s next reply in a cosy, slow-paced style.",
        customPromptTemplate: 'Stay in character; never speak for {{user}}.',
      });
      expect(character.exampleDialogues).to.deep.equal([
        { userMessage: 'What do you recommend?', characterResponse: 'The hand drip. *She is already grinding the beans.*' },
        { userMessage: '비 오는 날엔 뭐가 좋아요?', characterResponse: '따뜻한 유자차요.' },
      ]);
      const [cafe, mocha, rain] = character.lorebook!.entries;
      expect(cafe).to.deep.include({ id: '0', comment: 'The café', keys: ['café', 'cafe', '카페'], selective: true, position: 'before_char', insertionOrder: 100, matchWholeWords: false, caseSensitive: false });
      // SillyTavern's extensions: position 4 = at depth, selectiveLogic 3 = AND ALL.
      expect(mocha).to.deep.include({ id: '1', secondaryKeys: ['cat', '고양이'], position: 'at_depth', depth: 2, selectiveLogic: 'and_all', scanDepth: 6, cooldown: 3, caseSensitive: true, matchWholeWords: true });
      // position 2 (before the author's note) has no equivalent: the card's own after_char holds.
      expect(rain).to.deep.include({ id: '2', enabled: false, constant: true, position: 'after_char', insertionOrder: 10 });
    });

    it('returns what has no place in the character as extensions, unknown keys included', () => {
      const card = fixtureJson('v2-sillytavern.json');
      const { extensions } = parseCard({ bytes: fixture('v2-sillytavern.json') });
      expect(extensions.card).to.deep.equal({
        creator_notes: card.data.creator_notes,
        creator: 'rainydaycards',
        character_version: '1.2',
        extensions: card.data.extensions,
      });
      expect(extensions.book).to.deep.equal({ name: 'Yeonnam-dong' });
      expect(extensions.entries!['1']).to.deep.equal({ extensions: card.data.character_book.entries[1].extensions });
    });

    it('reads a RisuAI-style V3 card: V3 fields kept, plain-text regex keys imported, other regex entries set aside and reported', () => {
      const card = fixtureJson('v3-risu.json');
      const { character, extensions, spec, warnings } = parseCard({ bytes: fixture('v3-risu.json') });
      expect(spec).to.equal('chara_card_v3');
      expect(character.name).to.equal('Captain Ilsa Varn');
      expect(character.introductionScenes).to.deep.equal(['The Kestrel shudders as it clears the cloud layer.']);
      // The block where {{char}} speaks first fits no exchange; the card's text is kept for export.
      expect(character.exampleDialogues).to.have.length(2);
      expect(extensions.card!.mes_example).to.equal(card.data.mes_example);
      for (const field of ['nickname', 'creator_notes_multilingual', 'source', 'group_only_greetings', 'creation_date', 'modification_date', 'assets']) {
        expect(extensions.card![field], field).to.deep.equal(card.data[field]);
      }
      expect(extensions.card!.extensions).to.deep.equal(card.data.extensions);
      expect(extensions.entries!.kestrel).to.deep.equal({ priority: 10 });

      const entries = character.lorebook!.entries;
      expect(entries.map((e) => e.id)).to.deep.equal(['kestrel', 'blockade', '7']);
      expect(character.lorebook).to.include({ scanDepth: 8, tokenBudget: 2048, recursiveScanning: true });
      // /\b(?:Blockade|Iron Fleet)\b/i only ever matches those words: plain keys, whole words, any case.
      expect(entries[1]).to.deep.include({ keys: ['Blockade', 'Iron Fleet'], caseSensitive: false, matchWholeWords: true });
      expect(extensions.unsupportedEntries).to.deep.equal([card.data.character_book.entries[2]]);
      const reported = warnings.map((w) => w.field);
      expect(reported).to.include.members([
        'card.data.character_book.entries.2.keys',
        'card.data.character_book.entries.1.content',
        'card.data.mes_example',
        'card.data.nickname',
      ]);
    });

    it('reads a PNG laid out by another tool (tEXt chara right after IHDR) and returns the image without the card', async () => {
      const card = fixtureJson('v2-sillytavern.json');
      const png = await pngWith(tEXt('chara', base64Json(card)), tEXt('Software', 'some editor'));
      const { character, avatar, spec } = parseCard({ bytes: png, contentType: 'application/octet-stream' });
      expect(spec).to.equal('chara_card_v2');
      expect(character).to.deep.equal(parseCard({ bytes: fixture('v2-sillytavern.json') }).character);
      expect(textChunksOf(avatar!).map((t) => t.keyword)).to.deep.equal(['Software']);
      expect(await sharp(avatar!).metadata()).to.include({ format: 'png', width: 64, height: 96 });
    });

    it('prefers the ccv3 chunk over chara, whatever their order and case', async () => {
      const png = await pngWith(tEXt('Chara', base64Json(minimalV2({ name: 'Old' }))), tEXt('ccv3', base64Json({ spec: 'chara_card_v3', spec_version: '3.0', data: { name: 'New' } })));
      expect(parseCard({ bytes: png }).character.name).to.equal('New');
    });

    it('accepts a V1 card (the six fields at the top level)', () => {
      const v1 = { name: 'Aria', description: 'A bard.', personality: 'cheerful', scenario: 'A tavern.', first_mes: 'Hello!', mes_example: '<START>\n{{user}}: Hi\n{{char}}: Well met!' };
      const { character, spec } = parseCard({ bytes: jsonBytes(v1) });
      expect(spec).to.equal('chara_card_v1');
      expect(character).to.deep.include({ name: 'Aria', worldSetting: 'A tavern.', greeting: 'Hello!', exampleDialogues: [{ userMessage: 'Hi', characterResponse: 'Well met!' }] });
    });

    it('tells the format by the bytes, not the declared content type', async () => {
      const png = await pngWith(tEXt('chara', base64Json(minimalV2({}))));
      expect(parseCard({ bytes: png, contentType: 'application/json' }).avatar).to.be.instanceOf(Buffer);
      expect(parseCard({ bytes: jsonBytes(minimalV2({})), contentType: 'image/png' }).avatar).to.equal(undefined);
    });

    it('does not let a card set our avatar URL or world setting, or pollute prototypes', () => {
      const card = minimalV2({
        extensions: {
          [CARD_EXTENSION_KEY]: { version: 1, character: { avatarUrl: 'https://tracker.example/pixel.png', worldSettingId: crypto.randomUUID(), backgroundStory: 'kept' } },
          ['__proto__']: { polluted: true },
        },
      });
      const raw = Buffer.from(JSON.stringify(card).replace('"extensions":{', '"extensions":{"__proto__":{"polluted":true},'));
      const { character } = parseCard({ bytes: raw });
      expect(character.avatarUrl).to.equal(undefined);
      expect(character.worldSettingId).to.equal(undefined);
      expect(character.backgroundStory).to.equal('kept');
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });

  describe('export', () => {
    for (const format of ['v2', 'v3', 'png'] as const) {
      it(`export → import gives the same character (${format})`, () => {
        const exported = exportCard(rich, format);
        const bytes = Buffer.isBuffer(exported) ? exported : jsonBytes(exported);
        const imported = parseCard({ bytes });
        expect(characterInput.parse(imported.character)).to.deep.equal(characterInput.parse(rich));
        expect(imported.extensions).to.deep.equal({});
        expect(imported.warnings).to.deep.equal([]);
      });

      it(`an imported card keeps its extensions through export → import (${format})`, () => {
        for (const name of ['v2-sillytavern.json', 'v3-risu.json']) {
          const first = parseCard({ bytes: fixture(name) });
          const exported = exportCard({ ...first.character, extensions: first.extensions }, format);
          const second = parseCard({ bytes: Buffer.isBuffer(exported) ? exported : jsonBytes(exported) });
          expect(second.character, name).to.deep.equal(first.character);
          expect(second.extensions, name).to.deep.equal(first.extensions);
        }
      });
    }

    it('writes a SillyTavern card back with its extensions, entry settings and text as they came', () => {
      const card = fixtureJson('v2-sillytavern.json');
      const { character, extensions } = parseCard({ bytes: fixture('v2-sillytavern.json') });
      const { data } = exportCard({ ...character, extensions }, 'v2');
      for (const field of ['name', 'description', 'personality', 'scenario', 'first_mes', 'mes_example', 'creator_notes', 'system_prompt', 'post_history_instructions', 'alternate_greetings', 'creator', 'character_version', 'extensions']) {
        expect(data[field], field).to.deep.equal(card.data[field]);
      }
      const book = data.character_book as { name: string; entries: Record<string, unknown>[] };
      expect(book.name).to.equal('Yeonnam-dong');
      book.entries.forEach((entry, i) => {
        const original = card.data.character_book.entries[i];
        for (const field of ['id', 'keys', 'secondary_keys', 'comment', 'content', 'constant', 'selective', 'insertion_order', 'enabled', 'position', 'extensions']) {
          expect(entry[field], `entry ${i} ${field}`).to.deep.equal(original[field]);
        }
      });
    });

    it('writes a V3 card back with its V3 fields and the entries it could not use', () => {
      const card = fixtureJson('v3-risu.json');
      const { character, extensions } = parseCard({ bytes: fixture('v3-risu.json') });
      const { data, spec, spec_version } = exportCard({ ...character, extensions }, 'v3');
      expect([spec, spec_version]).to.deep.equal(['chara_card_v3', '3.0']);
      for (const field of ['nickname', 'creator_notes', 'creator_notes_multilingual', 'source', 'group_only_greetings', 'creation_date', 'modification_date', 'assets', 'mes_example', 'extensions']) {
        expect(data[field], field).to.deep.equal(card.data[field]);
      }
      const entries = (data.character_book as { entries: Record<string, unknown>[] }).entries;
      expect(entries.map((e) => e.id)).to.deep.equal(['kestrel', 'blockade', 7, 'weather']);
      expect(entries[3]).to.deep.equal(card.data.character_book.entries[2]);
      expect(entries[0]).to.include({ priority: 10, use_regex: false, name: 'The Kestrel' });
    });

    it('keeps example dialogues whose text looks like speaker lines', () => {
      const tricky = characterInput.parse({
        name: 'Rin',
        exampleDialogues: [{ userMessage: 'Read this:\n{{char}}: not really a reply\n<START>', characterResponse: 'Rin: that is my name, not a label' }],
      });
      for (const format of ['v2', 'v3', 'png'] as const) {
        const exported = exportCard(tricky, format);
        const imported = parseCard({ bytes: Buffer.isBuffer(exported) ? exported : jsonBytes(exported) });
        expect(imported.character.exampleDialogues, format).to.deep.equal(tricky.exampleDialogues);
      }
    });

    it('our extension yields to what another tool changed in the card since we wrote it', () => {
      const tricky = characterInput.parse({ ...rich, exampleDialogues: [{ userMessage: 'a\n{{char}}: b', characterResponse: 'c' }] });
      const card = exportCard(tricky, 'v3');
      const entries = (card.data.character_book as { entries: { position: string }[] }).entries;
      expect(entries[2].position).to.equal('after_char'); // ours is at_depth, which the card can only call after_char
      entries[2].position = 'before_char';
      card.data.mes_example = '<START>\n{{user}}: edited elsewhere\n{{char}}: indeed';
      const { character } = parseCard({ bytes: jsonBytes(card) });
      expect(character.lorebook!.entries[2].position).to.equal('before_char');
      expect(character.exampleDialogues).to.deep.equal([{ userMessage: 'edited elsewhere', characterResponse: 'indeed' }]);
      expect(character.backgroundStory).to.equal(rich.backgroundStory);
    });

    it('brings SillyTavern’s entry settings up to date when the entry was edited here', () => {
      const { character, extensions } = parseCard({ bytes: fixture('v2-sillytavern.json') });
      const mocha = character.lorebook!.entries[1];
      const edited: CharacterInput = { ...character, lorebook: { ...character.lorebook!, entries: [character.lorebook!.entries[0], { ...mocha, position: 'before_char', selectiveLogic: 'not_any' }, character.lorebook!.entries[2]] } };
      const entry = (exportCard({ ...edited, extensions }, 'v2').data.character_book as { entries: { position: string; extensions: Record<string, unknown> }[] }).entries[1];
      expect(entry.position).to.equal('before_char');
      expect(entry.extensions).to.include({ position: 0, selectiveLogic: 2, depth: 2 });
      expect(parseCard({ bytes: jsonBytes(exportCard({ ...edited, extensions }, 'v2')) }).character.lorebook!.entries[1]).to.include({ position: 'before_char', selectiveLogic: 'not_any' });
    });

    it('PNG: both chunks, into the given avatar with its old card chunks removed, or into a generated image', async () => {
      const old = exportCard(characterInput.parse({ name: 'Someone else' }), 'png', await pngWith());
      const png = exportCard(rich, 'png', old);
      const texts = textChunksOf(png);
      expect(texts.map((t) => t.keyword)).to.deep.equal(['chara', 'ccv3']);
      expect(JSON.parse(Buffer.from(texts[0].text, 'base64').toString('utf8'))).to.include({ spec: 'chara_card_v2' });
      expect(JSON.parse(Buffer.from(texts[1].text, 'base64').toString('utf8'))).to.include({ spec: 'chara_card_v3' });
      expect(await sharp(png).metadata()).to.include({ format: 'png', width: 64, height: 96 });
      expect(parseCard({ bytes: png }).character.name).to.equal(rich.name);

      const generated = exportCard(rich, 'png');
      expect(await sharp(generated).metadata()).to.include({ format: 'png', width: 400, height: 600 });
      expect((await sharp(generated).stats()).channels).to.have.length(3);

      expectRefused(() => exportCard(rich, 'png', Buffer.from('GIF89a')), 'invalid_avatar', 'avatar');
    });

    it("PNG: the V2 copy says it is a backfill of V3, and that note is taken out again on import", async () => {
      const { character, extensions } = parseCard({ bytes: fixture('v3-risu.json') });
      const png = exportCard({ ...character, extensions }, 'png');
      const chara = textChunksOf(png).find((t) => t.keyword === 'chara')!;
      const v2 = JSON.parse(Buffer.from(chara.text, 'base64').toString('utf8'));
      expect(v2.data.creator_notes).to.match(/^This character card is Character Card V3, but it is loaded as a Character Card V2\./);
      expect(exportCard({ ...character, extensions }, 'v2').data.creator_notes).to.equal('Airship adventure. Lorebook covers the ship and the Blockade.');
      const v2Only = parseCard({ bytes: await pngWith(tEXt('chara', chara.text)) });
      expect(v2Only.character).to.deep.equal(character);
      expect(v2Only.extensions).to.deep.equal(extensions);
    });
  });

  describe('hostile and malformed cards are refused with a 400', () => {
    let png: Buffer;
    before(async () => {
      png = await pngWith(tEXt('chara', base64Json(minimalV2({}))));
    });

    it('a truncated PNG', () => {
      expectRefused(() => parseCard({ bytes: png.subarray(0, png.length - 30) }), 'invalid_card', 'card');
      expectRefused(() => parseCard({ bytes: png.subarray(0, 20) }), 'invalid_card', 'card');
    });

    it('a chunk whose length runs past the end of the file, or is absurdly large', async () => {
      const beyond = Buffer.concat([png.subarray(0, 33), chunk('tEXt', Buffer.from('chara\0abcd'), { declaredLength: 5000 })]);
      expect(expectRefused(() => parseCard({ bytes: beyond }), 'invalid_card').message).to.match(/declares 5000 bytes/);
      const huge = Buffer.concat([png.subarray(0, 33), chunk('tEXt', Buffer.from('chara\0abcd'), { declaredLength: 0x7fffffff }), png.subarray(33)]);
      expectRefused(() => parseCard({ bytes: huge }), 'invalid_card');
    });

    it('a bad CRC', () => {
      const corrupt = Buffer.from(png);
      corrupt[33 + 8 + 10] ^= 0x01; // a byte inside the chara chunk's text
      expect(expectRefused(() => parseCard({ bytes: corrupt }), 'invalid_card').message).to.match(/CRC/);
    });

    it('a card chunk over the size cap, refused before decoding', async () => {
      const big = await pngWith(tEXt('chara', 'A'.repeat(6 * 1024 * 1024)));
      expectRefused(() => parseCard({ bytes: big }), 'card_too_large', 'card');
    });

    it('a 50 MB upload, at once, without reading it', () => {
      const upload = Buffer.alloc(50 * 1024 * 1024);
      SIGNATURE.copy(upload);
      const started = performance.now();
      expectRefused(() => parseCard({ bytes: upload }), 'card_too_large', 'card');
      expect(performance.now() - started).to.be.below(20);
      const json = Buffer.alloc(5 * 1024 * 1024, 0x20);
      json[0] = 0x7b;
      expectRefused(() => parseCard({ bytes: json }), 'card_too_large', 'card');
    });

    it('bad base64, base64 of something that is not JSON, or not UTF-8', async () => {
      expect(expectRefused(() => parseCard({ bytes: Buffer.concat([png.subarray(0, 33), tEXt('chara', 'eyJuYW1lIjoi*!'), png.subarray(33)]) }), 'invalid_card').message).to.match(/base64/);
      const notJson = await pngWith(tEXt('chara', Buffer.from('hello, not json').toString('base64')));
      expect(expectRefused(() => parseCard({ bytes: notJson }), 'invalid_card').message).to.match(/JSON/);
      const notUtf8 = await pngWith(tEXt('chara', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('base64')));
      expect(expectRefused(() => parseCard({ bytes: notUtf8 }), 'invalid_card').message).to.match(/UTF-8/);
    });

    it('a tEXt chunk without a NUL separator', async () => {
      const noNul = await pngWith(chunk('tEXt', Buffer.from('chara' + 'x'.repeat(200), 'latin1')));
      expect(expectRefused(() => parseCard({ bytes: noNul }), 'invalid_card', 'card').message).to.match(/NUL/);
    });

    it('a PNG that does not start with IHDR, or holds no card, or holds it only in iTXt', async () => {
      const noIhdr = Buffer.concat([SIGNATURE, tEXt('chara', base64Json(minimalV2({}))), chunk('IEND', Buffer.alloc(0))]);
      expectRefused(() => parseCard({ bytes: noIhdr }), 'invalid_card', 'card');
      const noCard = await pngWith();
      expectRefused(() => parseCard({ bytes: noCard }), 'invalid_card', 'card');
      const iTXt = await pngWith(chunk('iTXt', Buffer.from(`chara\0\0\0\0\0${base64Json(minimalV2({}))}`, 'latin1')));
      expectRefused(() => parseCard({ bytes: iTXt }), 'unsupported_card_spec', 'card');
    });

    it('JSON of another spec, or of no card at all', () => {
      expectRefused(() => parseCard({ bytes: jsonBytes({ spec: 'chara_card_v4', spec_version: '4.0', data: { name: 'X' } }) }), 'unsupported_card_spec', 'card.spec');
      expectRefused(() => parseCard({ bytes: jsonBytes({ spec: 'lorebook_v3', data: { entries: [] } }) }), 'unsupported_card_spec', 'card.spec');
      expectRefused(() => parseCard({ bytes: jsonBytes({ hello: 'world' }) }), 'invalid_card', 'card.spec');
      expectRefused(() => parseCard({ bytes: jsonBytes({ spec: 'chara_card_v3', data: { name: 'X' } }) }), 'invalid_card', 'card.spec_version');
      expectRefused(() => parseCard({ bytes: Buffer.from('[1,2,3]') }), 'unsupported_card_format', 'card');
      expectRefused(() => parseCard({ bytes: Buffer.from('{"spec": "chara_card_v2", "data": ') }), 'invalid_card', 'card');
    });

    it('other files: JPEG, CHARX (zip), empty', () => {
      expectRefused(() => parseCard({ bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), contentType: 'image/jpeg' }), 'unsupported_card_format', 'card');
      expectRefused(() => parseCard({ bytes: Buffer.from('PK\x03\x04rest', 'latin1') }), 'unsupported_card_format', 'card');
      expectRefused(() => parseCard({ bytes: Buffer.alloc(0) }), 'unsupported_card_format', 'card');
    });

    it('a missing or wrong-typed field, named by its place in the card', () => {
      expectRefused(() => parseCard({ bytes: jsonBytes({ spec: 'chara_card_v2', spec_version: '2.0', data: { description: 'no name' } }) }), 'invalid_card', 'card.data.name');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ alternate_greetings: 'hi' })) }), 'invalid_card', 'card.data.alternate_greetings');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ extensions: [] })) }), 'invalid_card', 'card.data.extensions');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ character_book: { entries: [{ keys: ['a'] }] } })) }), 'invalid_card', 'card.data.character_book.entries.0.content');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ extensions: { [CARD_EXTENSION_KEY]: 'not an object' } })) }), 'invalid_card', `card.data.extensions.${CARD_EXTENSION_KEY}`);
    });

    it('values our character cannot hold: too long, too many, out of range', () => {
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ name: 'x'.repeat(101) })) }), 'invalid_card', 'card.data.name');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ alternate_greetings: new Array(21).fill('hi') })) }), 'invalid_card', 'card.data.alternate_greetings');
      const book = { entries: [{ keys: ['ok'], content: 'a' }, { keys: ['fine', 'k'.repeat(101)], content: 'b' }] };
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ character_book: book })) }), 'invalid_card', 'card.data.character_book.entries.1.keys.1');
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ character_book: { scan_depth: 1000, entries: [] } })) }), 'invalid_card', 'card.data.character_book.scan_depth');
      const ours = { [CARD_EXTENSION_KEY]: { version: 1, character: { settings: { temperature: 9 } } } };
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ extensions: ours })) }), 'invalid_card', `card.data.extensions.${CARD_EXTENSION_KEY}.character.settings.temperature`);
    });

    it('strings Postgres would refuse (NUL, lone surrogates)', () => {
      expectRefused(() => parseCard({ bytes: jsonBytes(minimalV2({ description: 'a\u0000b' })) }), 'invalid_card', 'card.data.description');
      expectRefused(() => parseCard({ bytes: Buffer.from(JSON.stringify(minimalV2({ personality: 'PLACEHOLDER' })).replace('PLACEHOLDER', '\\ud800')) }), 'invalid_card', 'card.data.personality');
    });
  });
});
