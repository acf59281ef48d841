// Voices and pictures (POST /ai/tts, GET /ai/voices, POST /ai/image, POST /ai/image/variations)
// end to end against the fake OpenAI server: priced in points (held, settled, released on
// failure), stored and served by expiring URL, limited per user, once per Idempotency-Key.
import crypto from 'node:crypto';
import { expect } from 'chai';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { newUser, redisUrl, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

describe('chat: voices and images priced in points', function () {
  let openai: FakeOpenAi;
  let node: ApiNode;
  let owner: TestUser;
  let characterId: string;

  before(async () => {
    openai = await startFakeOpenAi();
    node = await startNode({
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl, LLM_RETRY_BASE_MS: '5',
      CHAT_TTS_POINTS: '5', CHAT_IMAGE_POINTS: '30', CHAT_MEDIA_PER_MINUTE: '3',
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    });
    owner = await newUser(node);
    characterId = (await request(node, 'POST', '/characters', {
      token: owner.accessToken,
      body: {
        name: '서하린', description: '바닷가 서점의 주인',
        imageDescriptions: ['긴 흑발, 둥근 안경, 남색 카디건을 입은 20대 여성'],
        voiceSettings: { voice: 'nova', speed: 1.25 },
      },
    })).body.id;
  });
  afterEach(() => openai.clear());
  after(async () => {
    await stopAllNodes();
    await openai.close();
  });

  const credit = (u: TestUser, amount: number) => node.services.points.credit(u.id, { amount, idempotencyKey: crypto.randomUUID() });
  const balance = async (u: TestUser) => (await node.services.points.balance(u.id)).balance;
  const post = (u: TestUser, path: string, body: unknown, key: string = crypto.randomUUID()) =>
    request(node, 'POST', path, { token: u.accessToken, body, headers: { 'idempotency-key': key } });
  // Signed storage URLs name the public base URL; the test node listens elsewhere.
  const onNode = (url: string) => { const u = new URL(url); return fetch(`${node.url}${u.pathname}${u.search}`); };
  const requestsTo = (path: string) => openai.requests.filter((r) => r.path === path);
  const storedFor = (u: TestUser) => node.ctx.storage.deletePrefix(`chat/media/${u.id}`);

  it('lists the voices, marking the default', async () => {
    const u = await newUser(node);
    const res = await request(node, 'GET', '/ai/voices', { token: u.accessToken });
    expect(res.status).to.equal(200);
    expect(res.body.voices.map((v: { id: string }) => v.id)).to.include.members(['alloy', 'echo', 'fable', 'onyx', 'nova', 'shimmer']);
    expect(res.body.voices.filter((v: { default: boolean }) => v.default).map((v: { id: string }) => v.id)).to.deep.equal(['alloy']);
  });

  it("speaks in a character's voice settings, charges per started 1,000 characters, and serves the audio by expiring URL", async () => {
    const u = await newUser(node);
    await credit(u, 100);
    const text = '안녕하세요. '.repeat(200).trim(); // 1,399 characters: two started thousands
    const res = await post(u, '/ai/tts', { text, characterId });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ contentType: 'audio/mpeg', voice: 'nova', characters: text.length, pointsCharged: 10, balance: 90 });
    expect(Date.parse(res.body.expiresAt)).to.be.greaterThan(Date.now());
    const sent = requestsTo('/v1/audio/speech').at(-1)!;
    expect(sent.body).to.include({ voice: 'nova', speed: 1.25, input: text, response_format: 'mp3' });
    const served = await onNode(res.body.url);
    expect(served.status).to.equal(200);
    expect(served.headers.get('content-type')).to.equal('audio/mpeg');
    expect(Buffer.from(await served.arrayBuffer()).subarray(0, 3).toString()).to.equal('ID3');
    // A listed voice without a character: that voice, the natural speed.
    const plain = await post(u, '/ai/tts', { text: '좋은 아침', voice: 'onyx', format: 'opus' });
    expect(plain.body).to.include({ contentType: 'audio/ogg', voice: 'onyx', pointsCharged: 5, balance: 85 });
    expect(requestsTo('/v1/audio/speech').at(-1)!.body).to.include({ voice: 'onyx', response_format: 'opus' }).and.not.have.property('speed');
    expect(await balance(u)).to.equal(85);
  });

  it('draws a character from its image description, and variations of it, each picture charged and stored', async () => {
    const u = await newUser(node);
    await credit(u, 100);
    const res = await post(u, '/ai/image', { characterId, prompt: '비 오는 밤의 서점' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ contentType: 'image/png', pointsCharged: 30, balance: 70 });
    const prompt: string = requestsTo('/v1/images/generations').at(-1)!.body.prompt;
    expect(prompt).to.include('서하린').and.include('둥근 안경').and.include('비 오는 밤의 서점');
    const served = await onNode(res.body.url);
    expect(served.status).to.equal(200);
    expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).format).to.equal('png');

    const more = await post(u, '/ai/image/variations', { characterId, n: 2 });
    expect(more.status, JSON.stringify(more.body)).to.equal(200);
    expect(more.body).to.include({ pointsCharged: 60, balance: 10 });
    expect(more.body.images).to.have.length(2);
    expect(new Set(more.body.images.map((i: { url: string }) => i.url)).size).to.equal(2);
    expect(requestsTo('/v1/images/generations').at(-1)!.body).to.include({ n: 2 });
    for (const i of more.body.images) expect((await onNode(i.url)).status).to.equal(200);
    expect(await storedFor(u)).to.equal(3);
  });

  it('releases the held points and stores nothing when the provider fails', async () => {
    const u = await newUser(node);
    await credit(u, 100);
    openai.on({ path: '/v1/images/generations', times: Infinity, action: { kind: 'fail', status: 500 } });
    const res = await post(u, '/ai/image', { characterId });
    expect(res.status).to.equal(503);
    expect(res.body).to.include({ code: 'llm_unavailable' });
    expect(await balance(u)).to.equal(100);
    const { items } = await node.services.points.transactions(u.id, { limit: 10 });
    expect(items.map((e: { type: string; amount: number }) => [e.type, e.amount])).to.deep.equal([['release', 30], ['reserve', -30], ['credit', 100]]);
    expect(await storedFor(u)).to.equal(0);
  });

  it('refuses with 402 before calling the provider when the balance does not cover the price', async () => {
    const u = await newUser(node);
    await credit(u, 20);
    const before = openai.requests.length;
    const res = await post(u, '/ai/image', { characterId });
    expect(res.status).to.equal(402);
    expect(res.body).to.include({ code: 'insufficient_points', balance: 20, required: 30 });
    expect(openai.requests.length).to.equal(before);
    expect(await balance(u)).to.equal(20);
  });

  it('limits each user (429 before anything is held), apart from other users', async () => {
    const u = await newUser(node);
    await credit(u, 100);
    for (let i = 0; i < 3; i++) expect((await post(u, '/ai/tts', { text: `${i}번째` })).status).to.equal(200);
    const before = openai.requests.length;
    const limited = await post(u, '/ai/tts', { text: '네 번째' });
    expect(limited.status).to.equal(429);
    expect(limited.body).to.include({ code: 'media_rate_limited' });
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
    expect(openai.requests.length).to.equal(before);
    expect(await balance(u)).to.equal(85);
    const other = await newUser(node);
    await credit(other, 10);
    expect((await post(other, '/ai/tts', { text: '다른 사람' })).status).to.equal(200);
  });

  it("answers 404 for another user's private character, and serves its creator", async () => {
    const hidden = (await request(node, 'POST', '/characters', { token: owner.accessToken, body: { name: '비공개', description: '숨은 캐릭터', isPublic: false } })).body.id;
    const u = await newUser(node);
    await credit(u, 100);
    expect((await post(u, '/ai/image', { characterId: hidden })).status).to.equal(404);
    expect((await post(u, '/ai/tts', { text: '안녕', characterId: hidden })).status).to.equal(404);
    expect(await balance(u)).to.equal(100);
    await credit(owner, 100);
    expect((await post(owner, '/ai/image', { characterId: hidden })).status).to.equal(200);
  });

  it('charges a retry with the same Idempotency-Key once and replays the first response', async () => {
    const u = await newUser(node);
    await credit(u, 100);
    const key = crypto.randomUUID();
    const first = await post(u, '/ai/image', { characterId }, key);
    const again = await post(u, '/ai/image', { characterId }, key);
    expect(first.status).to.equal(200);
    expect(again.status).to.equal(200);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.body).to.deep.equal(first.body);
    expect(await balance(u)).to.equal(70);
    expect((await post(u, '/ai/image', { characterId, prompt: '다른 요청' }, key)).status).to.equal(409);
  });

  it('refuses bad input with 400 naming the field, before anything is charged', async () => {
    const u = await newUser(node);
    await credit(u, 100);
    const field = async (path: string, body: unknown) => {
      const res = await post(u, path, body);
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      return res.body.errors.map((e: { field: string }) => e.field);
    };
    expect(await field('/ai/tts', { text: '' })).to.deep.equal(['text']);
    expect(await field('/ai/tts', { text: '안녕', voice: 'robot' })).to.deep.equal(['voice']);
    expect(await field('/ai/tts', { text: 'x'.repeat(4097) })).to.deep.equal(['text']);
    expect(await field('/ai/image', { characterId: 'nope' })).to.deep.equal(['characterId']);
    expect(await field('/ai/image', { characterId, size: '3x3' })).to.deep.equal(['size']);
    expect(await field('/ai/image/variations', { characterId, n: 9 })).to.deep.equal(['n']);
    const bare = (await request(node, 'POST', '/characters', { token: u.accessToken, body: { name: '설명 없음' } })).body.id;
    expect(await field('/ai/image', { characterId: bare })).to.deep.equal(['characterId']);
    const noKey = await request(node, 'POST', '/ai/tts', { token: u.accessToken, body: { text: '안녕' } });
    expect(noKey.status).to.equal(400);
    expect(noKey.body).to.include({ code: 'idempotency_key_required' });
    expect(await balance(u)).to.equal(100);
  });
});
