// Stories: generated and streamed over /chat (priced in points), written, listed, read once per day,
// liked and commented through the social service.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const STORY = '비 오는 밤, 서하린은 등대지기의 일기를 펼쳤다. 마지막 장에는 아직 쓰이지 않은 내일이 있었다.';

describe('chat: stories', () => {
  let openai: FakeOpenAi;
  let node: ApiNode;
  let author: TestUser;
  let characterId: string;
  const clock = createTestClock('2026-11-27T10:00:00+09:00');

  before(async () => {
    openai = await startFakeOpenAi();
    openai.setReply(STORY);
    node = await startNode({ OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl, LLM_RETRY_BASE_MS: '5', CHAT_STORY_POINTS: '30' }, clock);
    author = await newUser(node);
    characterId = (await request(node, 'POST', '/characters', { token: author.accessToken, body: { name: '서하린', personality: '차분함' } })).body.id;
  });
  afterEach(() => {
    closeAllSockets();
    openai.clear();
  });
  after(async () => {
    await stopAllNodes();
    await openai.close();
  });

  const credit = (u: TestUser, amount: number) => node.services.points.credit(u.id, { amount, idempotencyKey: crypto.randomUUID() });
  const balance = async (u: TestUser) => (await node.services.points.balance(u.id)).balance;

  it('generates a story over /chat, streamed and charged once; REST gives the whole story; too few points is 402 with nothing stored', async () => {
    await credit(author, 100);
    const socket = connectSocket(node, '/chat', { token: author.accessToken });
    await connected(socket);
    let text = '';
    socket.on('story.delta', (d: { offset: number; text: string }) => {
      if (d.offset === text.length) text += d.text;
    });
    const done = nextEvent<any>(socket, 'story.done');
    const ack = await socket.emitWithAck('story.generate', { characterIds: [characterId], prompt: '등대지기의 비밀', genres: ['판타지'] });
    expect(ack.ok, JSON.stringify(ack)).to.equal(true);
    const finished = await done;
    expect(text).to.equal(STORY);
    expect(finished).to.deep.include({ pointsCharged: 30, balance: 70 });
    expect(finished.story).to.include({ id: ack.storyId, status: 'done', content: STORY, title: '서하린의 이야기' });
    const rest = await request(node, 'POST', '/stories/generate', { token: author.accessToken, body: { characterIds: [characterId], prompt: '두 번째 이야기', title: '둘째 밤' } });
    expect(rest.status, JSON.stringify(rest.body)).to.equal(200);
    expect(rest.body.story).to.include({ title: '둘째 밤', content: STORY });
    expect(await balance(author)).to.equal(40);
    const poor = await newUser(node);
    const refused = await request(node, 'POST', '/stories/generate', { token: poor.accessToken, body: { characterIds: [characterId], prompt: '돈 없는 이야기' } });
    expect(refused.status).to.equal(402);
    expect((await request(node, 'GET', `/users/${poor.id}/stories`, { token: poor.accessToken })).body.items).to.have.length(0);
    // A failure inside the LLM releases the hold.
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 2, then: 'error' } });
    const failed = await request(node, 'POST', '/stories/generate', { token: author.accessToken, body: { characterIds: [characterId], prompt: '실패할 이야기' } });
    expect(failed.status).to.be.within(500, 503);
    expect(await balance(author)).to.equal(40);
  });

  it('writes, lists and reads stories: owner-only writes, private ones hidden, one view per user per KST day', async () => {
    const reader = await newUser(node);
    const written = await request(node, 'POST', '/stories', { token: author.accessToken, body: { title: '손으로 쓴 이야기', content: '옛날 옛적에', characterIds: [characterId], genres: ['동화'] } });
    expect(written.status).to.equal(201);
    const hidden = await request(node, 'POST', '/stories', { token: author.accessToken, body: { title: '비밀 일기', content: '...', isPublic: false } });
    expect((await request(node, 'GET', `/stories/${hidden.body.id}`, { token: reader.accessToken })).status).to.equal(404);
    expect((await request(node, 'PUT', `/stories/${written.body.id}`, { token: reader.accessToken, body: { title: 'x', content: 'y' } })).status).to.equal(404);
    const byGenre = await request(node, 'GET', '/stories?genre=동화', { token: reader.accessToken });
    expect(byGenre.body.items.map((s: { id: string }) => s.id)).to.deep.equal([written.body.id]);
    const byCharacter = await request(node, 'GET', `/stories?characterId=${characterId}`, { token: reader.accessToken });
    expect(byCharacter.body.items.map((s: { id: string }) => s.id)).to.include(written.body.id);
    for (let i = 0; i < 3; i++) await request(node, 'GET', `/stories/${written.body.id}`, { token: reader.accessToken });
    expect((await request(node, 'GET', `/stories/${written.body.id}`, { token: author.accessToken })).body.viewCount).to.equal(1);
    clock.advance(24 * 3600_000);
    expect((await request(node, 'GET', `/stories/${written.body.id}`, { token: reader.accessToken })).body.viewCount).to.equal(2);
    const unknownCast = await request(node, 'POST', '/stories', { token: reader.accessToken, body: { title: 't', content: 'c', characterIds: [crypto.randomUUID()] } });
    expect(unknownCast.status).to.equal(400);
    expect(unknownCast.body.errors[0].field).to.equal('characterIds.0');
    // Featuring is the operators'.
    expect((await request(node, 'PUT', `/admin/stories/${written.body.id}/featured`, { token: author.accessToken, body: { featured: true } })).status).to.equal(403);
    expect((await request(node, 'DELETE', `/stories/${written.body.id}`, { token: author.accessToken })).status).to.equal(204);
    expect((await request(node, 'GET', `/stories/${written.body.id}`, { token: reader.accessToken })).status).to.equal(404);
  });

  it('likes and comments on stories at /stories/:id/like and /story-comments/:id, with exact counts', async () => {
    const story = (await request(node, 'POST', '/stories', { token: author.accessToken, body: { title: '좋아요 받을 이야기', content: '본문' } })).body;
    const fans = await Promise.all([1, 2, 3].map(() => newUser(node)));
    await Promise.all(fans.map((f) => request(node, 'POST', `/stories/${story.id}/like`, { token: f.accessToken })));
    await request(node, 'DELETE', `/stories/${story.id}/like`, { token: fans[0].accessToken });
    expect((await request(node, 'GET', `/stories/${story.id}/like-status`, { token: fans[1].accessToken })).body).to.deep.equal({ liked: true, likeCount: 2, commentCount: 0 });
    expect((await request(node, 'GET', `/stories/${story.id}`, { token: author.accessToken })).body.likeCount).to.equal(2);
    const comment = await request(node, 'POST', `/stories/${story.id}/comments`, { token: fans[1].accessToken, body: { body: '재밌어요' } });
    expect((await request(node, 'PUT', `/story-comments/${comment.body.id}`, { token: fans[1].accessToken, body: { body: '정말 재밌어요' } })).body.body).to.equal('정말 재밌어요');
    // A character comment's path does not reach a story comment.
    expect((await request(node, 'PUT', `/comments/${comment.body.id}`, { token: fans[1].accessToken, body: { body: 'x' } })).status).to.equal(404);
    expect((await request(node, 'DELETE', `/story-comments/${comment.body.id}`, { token: fans[1].accessToken })).status).to.equal(204);
  });
});
