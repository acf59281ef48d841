import { expect } from 'chai';
import fs from 'node:fs';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const full = {
  name: '서하린',
  description: '달빛 도서관의 사서',
  personality: '차분하고 다정하지만 책을 함부로 다루면 엄격해진다',
  backgroundStory: '백 년 된 도서관을 지켜 온 가문의 막내',
  speechStyle: '존댓말, 문장 끝에 가끔 "…요"를 붙인다',
  greeting: '어서 오세요. 오늘은 어떤 이야기를 찾으시나요?',
  worldSetting: '밤에만 열리는 도서관이 있는 항구 도시',
  introductionScenes: ['비 오는 밤, 도서관 문이 삐걱 열린다'],
  characterType: 'fantasy',
  imageDescriptions: ['은색 머리, 둥근 안경, 남색 망토'],
  voiceSettings: { voice: 'nova', speed: 1.1 },
  hasAffinitySystem: true,
  affinityRules: [{ trigger: '책', delta: 2 }, { trigger: '시끄럽', delta: -3 }],
  affinityStages: [{ name: '낯섦', minScore: 0 }, { name: '단골', minScore: 10 }],
  tags: ['판타지', '도서관'],
  settings: { systemPrompt: '너는 서하린이다.', temperature: 0.7, maxTokens: 400, memoryLength: 12, responseStyle: '짧게' },
  exampleDialogues: [{ userMessage: '추천해 줄 책 있어요?', characterResponse: '오늘 같은 밤엔 바다 이야기가 좋아요.' }],
  lorebook: { entries: [{ id: 'moon', keys: ['달빛'], content: '달빛 도서관은 보름달에만 지하 서고를 연다.' }] },
};

describe('chat: characters', () => {
  let node: ApiNode;
  let owner: TestUser;
  let visitor: TestUser;
  before(async () => {
    node = await startNode();
    owner = await newUser(node);
    visitor = await newUser(node);
  });
  after(stopAllNodes);

  const create = (u: TestUser, body: object) => request(node, 'POST', '/characters', { token: u.accessToken, body });

  it('creates a character with every field; its creator sees prompts and lorebook, a visitor does not', async () => {
    const created = await create(owner, full);
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body).to.deep.include({ name: '서하린', creatorId: owner.id, isPublic: true, chatCount: 0, likeCount: 0 });
    expect(created.body.settings).to.include({ systemPrompt: '너는 서하린이다.', memoryLength: 12, useMemory: true });
    expect(created.body.exampleDialogues).to.deep.equal(full.exampleDialogues);
    expect(created.body.lorebook.entries[0]).to.include({ id: 'moon', content: full.lorebook.entries[0].content, matchWholeWords: true });
    const seen = await request(node, 'GET', `/characters/${created.body.id}`, { token: visitor.accessToken });
    expect(seen.status).to.equal(200);
    expect(seen.body.lorebook).to.equal(null);
    expect(seen.body.settings).to.not.have.property('systemPrompt');
    expect(seen.body).to.deep.include({ greeting: full.greeting, affinityStages: full.affinityStages });
  });

  it('lets only the creator replace or delete; a private character is 404 to everyone else, listed for its creator only', async () => {
    const { body: c } = await create(owner, { ...full, name: '비밀 캐릭터', isPublic: false });
    expect((await request(node, 'GET', `/characters/${c.id}`, { token: visitor.accessToken })).status).to.equal(404);
    expect((await request(node, 'PUT', `/characters/${c.id}`, { token: visitor.accessToken, body: full })).status).to.equal(404);
    expect((await request(node, 'DELETE', `/characters/${c.id}`, { token: visitor.accessToken })).status).to.equal(404);
    const mine = await request(node, 'GET', `/users/${owner.id}/characters?limit=50`, { token: owner.accessToken });
    expect(mine.body.items.map((i: { id: string }) => i.id)).to.include(c.id);
    const theirs = await request(node, 'GET', `/users/${owner.id}/characters?limit=50`, { token: visitor.accessToken });
    expect(theirs.body.items.map((i: { id: string }) => i.id)).to.not.include(c.id);
    const replaced = await request(node, 'PUT', `/characters/${c.id}`, { token: owner.accessToken, body: { name: '공개된 캐릭터' } });
    expect(replaced.body).to.include({ name: '공개된 캐릭터', isPublic: true });
    expect(replaced.body.greeting).to.equal(undefined);
    expect((await request(node, 'GET', `/characters/${c.id}`, { token: visitor.accessToken })).status).to.equal(200);
    expect((await request(node, 'DELETE', `/characters/${c.id}`, { token: owner.accessToken })).status).to.equal(204);
    expect((await request(node, 'GET', `/characters/${c.id}`, { token: owner.accessToken })).status).to.equal(404);
  });

  it('searches and filters public characters and pages them by cursor, recent or popular', async () => {
    const creator = await newUser(node);
    const tag = `t${Date.now().toString(36)}`;
    for (let i = 0; i < 5; i++) await create(creator, { name: `검색용 ${tag} ${i}`, tags: [tag], characterType: i % 2 ? 'sf' : 'fantasy' });
    await create(creator, { name: `숨김 ${tag}`, tags: [tag], isPublic: false });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { name: string }[]; nextCursor: string | null } } = await request(node, 'GET', `/characters?tag=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: visitor.accessToken });
      seen.push(...res.body.items.map((i) => i.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).to.deep.equal([4, 3, 2, 1, 0].map((i) => `검색용 ${tag} ${i}`));
    const sf = await request(node, 'GET', `/characters?tag=${tag}&type=sf`, { token: visitor.accessToken });
    expect(sf.body.items).to.have.length(2);
    const q = await request(node, 'GET', `/characters?q=${encodeURIComponent(`${tag} 3`)}`, { token: visitor.accessToken });
    expect(q.body.items.map((i: { name: string }) => i.name)).to.deep.equal([`검색용 ${tag} 3`]);
    // LIKE wildcards are literal.
    expect((await request(node, 'GET', `/characters?q=%25%25&tag=${tag}`, { token: visitor.accessToken })).body.items).to.have.length(0);
    const popular = await request(node, 'GET', `/characters?tag=${tag}&sort=popular&limit=3`, { token: visitor.accessToken });
    expect(popular.body.items).to.have.length(3);
    const next = await request(node, 'GET', `/characters?tag=${tag}&sort=popular&limit=3&cursor=${popular.body.nextCursor}`, { token: visitor.accessToken });
    expect(next.body.items).to.have.length(2);
    const bad = await request(node, 'GET', `/characters?cursor=${popular.body.nextCursor}`, { token: visitor.accessToken });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('invalid_cursor');
  });

  it('answers bad input with 400 naming the field', async () => {
    const res = await create(owner, { name: '', settings: { temperature: 5 }, lorebook: { entries: [{ id: 'x', content: 1 }] }, worldSettingId: 'nope' });
    expect(res.status).to.equal(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).to.include.members(['name', 'settings.temperature', 'lorebook.entries.0.content', 'worldSettingId']);
    const unknownWorld = await create(owner, { name: 'x', worldSettingId: crypto.randomUUID() });
    expect(unknownWorld.status).to.equal(400);
    expect(unknownWorld.body.errors[0].field).to.equal('worldSettingId');
  });

  describe('world settings', () => {
    it('are public or their creator\'s own; a character using one counts it and takes its rules', async () => {
      const world = await request(node, 'POST', '/world-settings', { token: owner.accessToken, body: { name: '항구 도시', rules: '밤에는 마법이 강해진다', isPublic: true } });
      expect(world.status).to.equal(201);
      const secret = await request(node, 'POST', '/world-settings', { token: owner.accessToken, body: { name: '비밀 세계' } });
      expect((await request(node, 'GET', `/world-settings/${secret.body.id}`, { token: visitor.accessToken })).status).to.equal(404);
      expect((await request(node, 'PUT', `/world-settings/${world.body.id}`, { token: visitor.accessToken, body: { name: 'x' } })).status).to.equal(404);
      const listed = await request(node, 'GET', '/world-settings', { token: visitor.accessToken });
      const ids = listed.body.items.map((w: { id: string }) => w.id);
      expect(ids).to.include(world.body.id).and.not.include(secret.body.id);
      // The visitor builds a character on the public world; using the owner's private one is refused.
      expect((await create(visitor, { name: '항구의 선원', worldSettingId: world.body.id })).status).to.equal(201);
      expect((await create(visitor, { name: '엿보기', worldSettingId: secret.body.id })).status).to.equal(400);
      expect((await request(node, 'GET', `/world-settings/${world.body.id}`, { token: owner.accessToken })).body.usageCount).to.equal(1);
      expect((await request(node, 'DELETE', `/world-settings/${world.body.id}`, { token: owner.accessToken })).status).to.equal(204);
    });
  });

  describe('image gallery', () => {
    const png = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 40, g: 90, b: 160 } } }).png().toBuffer();
    // Signed storage URLs name the public base URL; the test node listens elsewhere.
    const onNode = (url: string) => { const u = new URL(url); return fetch(`${node.url}${u.pathname}${u.search}`); };
    const upload = (u: TestUser, id: string, bytes: Buffer) => fetch(`${node.url}/characters/${id}/images`, { method: 'POST', headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': 'image/png' }, body: new Uint8Array(bytes) });

    it('takes the creator\'s uploads through the image worker into storage, shows them with expiring URLs to whoever may see the character', async () => {
      const { body: c } = await create(owner, { name: '갤러리 캐릭터' });
      const res = await upload(owner, c.id, await png(900, 1000));
      expect(res.status).to.equal(201);
      const image = (await res.json()) as { id: string; width: number; height: number };
      expect(image).to.include({ width: 750, height: 1000 }); // the largest centred 3:4 box
      const listed = await request(node, 'GET', `/characters/${c.id}/images`, { token: visitor.accessToken });
      expect(listed.body.items.map((i: { id: string }) => i.id)).to.deep.equal([image.id]);
      const served = await onNode(listed.body.items[0].url);
      expect(served.status).to.equal(200);
      expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).format).to.equal('webp');
      expect((await upload(visitor, c.id, await png(900, 1000))).status).to.equal(404);
      const junk = await upload(owner, c.id, Buffer.from('not an image at all'));
      expect(junk.status).to.equal(400);
      expect(((await junk.json()) as { errors: { field: string }[] }).errors[0].field).to.equal('file');
      const small = await upload(owner, c.id, await png(100, 100));
      expect(((await small.json()) as { code: string }).code).to.equal('too_small');
      expect((await request(node, 'DELETE', `/characters/${c.id}/images/${image.id}`, { token: visitor.accessToken })).status).to.equal(404);
      expect((await request(node, 'DELETE', `/characters/${c.id}/images/${image.id}`, { token: owner.accessToken })).status).to.equal(204);
      expect((await onNode(listed.body.items[0].url)).status).to.equal(404);
      const hidden = await create(owner, { name: '비공개 갤러리', isPublic: false });
      expect((await request(node, 'GET', `/characters/${hidden.body.id}/images`, { token: visitor.accessToken })).status).to.equal(404);
    });
  });

  describe('character cards', () => {
    const importCard = (u: TestUser, bytes: Buffer, contentType: string) =>
      fetch(`${node.url}/characters/import`, { method: 'POST', headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': contentType }, body: new Uint8Array(bytes) });
    const exported = async (u: TestUser, id: string, format: string) => {
      const res = await fetch(`${node.url}/characters/${id}/export?format=${format}`, { headers: { authorization: `Bearer ${u.accessToken}` } });
      return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
    };
    const mine = async (u: TestUser) => (await request(node, 'GET', `/users/${u.id}/characters?limit=50`, { token: u.accessToken })).body.items.length;

    it('imports a V2 card with its lorebook, and exports V2, V3 and PNG that import back to the same character', async () => {
      const creator = await newUser(node);
      const res = await importCard(creator, fs.readFileSync('test/fixtures/cards/v2-sillytavern.json'), 'application/json');
      expect(res.status).to.equal(201);
      const imported = (await res.json()) as { character: { id: string; lorebook: { entries: unknown[] } } & Record<string, unknown>; spec: string };
      expect(imported.spec).to.equal('chara_card_v2');
      expect(imported.character.lorebook.entries.length).to.be.greaterThan(0);
      const strip = (c: Record<string, unknown>) => {
        const { id: _i, createdAt: _c, updatedAt: _u, creatorId: _r, ...rest } = c;
        return rest;
      };
      for (const [format, type] of [['v2', 'application/json'], ['v3', 'application/json'], ['png', 'image/png']] as const) {
        const card = await exported(creator, imported.character.id, format);
        expect(card.status).to.equal(200);
        expect(card.type).to.include(type);
        const again = await importCard(creator, card.bytes, type);
        expect(again.status, format).to.equal(201);
        expect(strip(((await again.json()) as { character: Record<string, unknown> }).character), format).to.deep.equal(strip(imported.character));
      }
      // The card carries the prompts and lorebook: its creator's only.
      expect((await exported(visitor, imported.character.id, 'v3')).status).to.equal(404);
    });

    it('refuses a malformed or hostile card with 400 naming the field, storing nothing', async () => {
      const creator = await newUser(node);
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
      const cases: [Buffer, string][] = [
        [png, 'image/png'], // a PNG without a card
        [png.subarray(0, 20), 'image/png'], // truncated
        [Buffer.from('{"spec":"chara_card_v9","data":{}}'), 'application/json'],
        [Buffer.from('{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":""}}'), 'application/json'],
        [Buffer.from('not json'), 'application/json'],
      ];
      for (const [bytes, type] of cases) {
        const res = await importCard(creator, bytes, type);
        expect(res.status, bytes.subarray(0, 40).toString('latin1')).to.equal(400);
        const body = (await res.json()) as { code: string };
        expect(body.code).to.be.oneOf(['invalid_card', 'unsupported_card_spec', 'unsupported_card_format', 'validation_failed']);
      }
      expect(await mine(creator)).to.equal(0);
    });
  });
});
