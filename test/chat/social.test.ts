// Likes and comments on characters through the platform's social service.
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

describe('chat: likes and comments on characters', () => {
  let node: ApiNode;
  let creator: TestUser;
  let characterId: string;
  before(async () => {
    node = await startNode({ DATABASE_POOL_MAX: '10' });
    creator = await newUser(node);
    characterId = (await request(node, 'POST', '/characters', { token: creator.accessToken, body: { name: '인기 캐릭터' } })).body.id;
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  const rows = async (id: string) => Number((await node.ctx.db.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from social_reactions where target_type = 'chat.character' and target_id = ?`, [id]))[0].n);

  it('likes idempotently, unlikes, and tells the creator on /notifications (not for their own like)', async () => {
    const fan = await newUser(node);
    const inbox = connectSocket(node, '/notifications', { token: creator.accessToken });
    await connected(inbox);
    const told = nextEvent<any>(inbox, 'notification');
    const first = await request(node, 'POST', `/characters/${characterId}/like`, { token: fan.accessToken });
    expect(first.body).to.deep.equal({ liked: true, likeCount: 1, commentCount: 0 });
    expect((await request(node, 'POST', `/characters/${characterId}/like`, { token: fan.accessToken })).body.likeCount).to.equal(1);
    const note = await told;
    expect(note.notification).to.include({ type: 'chat.character_liked', category: 'social' });
    expect(note.notification.data).to.deep.equal({ characterId, likeCount: 1 });
    expect((await request(node, 'GET', `/characters/${characterId}`, { token: fan.accessToken })).body.likeCount).to.equal(1);
    expect((await request(node, 'GET', `/characters/${characterId}/like-status`, { token: fan.accessToken })).body).to.deep.equal({ liked: true, likeCount: 1, commentCount: 0 });
    expect((await request(node, 'DELETE', `/characters/${characterId}/like`, { token: fan.accessToken })).body).to.deep.equal({ liked: false, likeCount: 0, commentCount: 0 });
    expect((await request(node, 'DELETE', `/characters/${characterId}/like`, { token: fan.accessToken })).body.likeCount).to.equal(0);
    expect(await rows(characterId)).to.equal(0);
  });

  it('accepts POST /notifications/settings as the seed sends it, like PUT', async () => {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/notifications/settings', { token: u.accessToken, body: { categories: { social: false } } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect((await request(node, 'GET', '/notifications/settings', { token: u.accessToken })).body.categories.social).to.equal(false);
  });

  it('keeps the count exact when many users like and unlike at once', async function () {
    this.timeout(60_000);
    const c = (await request(node, 'POST', '/characters', { token: creator.accessToken, body: { name: '경쟁 캐릭터' } })).body.id;
    const fans = await Promise.all(Array.from({ length: 30 }, () => newUser(node)));
    await Promise.all(fans.flatMap((f, i) => Array.from({ length: 4 }, (_, k) =>
      request(node, (i + k) % 2 ? 'DELETE' : 'POST', `/characters/${c}/like`, { token: f.accessToken }))));
    const status = await request(node, 'GET', `/characters/${c}/like-status`, { token: creator.accessToken });
    expect(status.body.likeCount).to.equal(await rows(c));
    expect((await request(node, 'GET', `/characters/${c}`, { token: creator.accessToken })).body.likeCount).to.equal(status.body.likeCount);
  });

  it('pages comments by cursor, threads replies, lets only the author edit and delete, and keeps replies of a deleted comment', async () => {
    const a = await newUser(node);
    const b = await newUser(node);
    const first = await request(node, 'POST', `/characters/${characterId}/comments`, { token: a.accessToken, body: { body: '목소리가 좋아요' } });
    expect(first.status).to.equal(201);
    const reply = await request(node, 'POST', `/characters/${characterId}/comments`, { token: b.accessToken, body: { body: '동의해요', parentId: first.body.id } });
    const nested = await request(node, 'POST', `/characters/${characterId}/comments`, { token: a.accessToken, body: { body: '고마워요', parentId: reply.body.id } });
    expect(nested.body.parentId).to.equal(first.body.id);
    for (let i = 0; i < 3; i++) await request(node, 'POST', `/characters/${characterId}/comments`, { token: b.accessToken, body: { body: `댓글 ${i}` } });
    const page1 = await request(node, 'GET', `/characters/${characterId}/comments?limit=4`, { token: creator.accessToken });
    const page2 = await request(node, 'GET', `/characters/${characterId}/comments?limit=4&cursor=${page1.body.nextCursor}`, { token: creator.accessToken });
    expect([...page1.body.items, ...page2.body.items].map((c: { body: string }) => c.body)).to.deep.equal(['댓글 2', '댓글 1', '댓글 0', '고마워요', '동의해요', '목소리가 좋아요']);
    expect((await request(node, 'PUT', `/comments/${first.body.id}`, { token: b.accessToken, body: { body: '가로채기' } })).status).to.equal(403);
    const edited = await request(node, 'PUT', `/comments/${first.body.id}`, { token: a.accessToken, body: { body: '목소리가 정말 좋아요' } });
    expect(edited.body).to.include({ body: '목소리가 정말 좋아요', edited: true });
    expect((await request(node, 'DELETE', `/comments/${first.body.id}`, { token: b.accessToken })).status).to.equal(403);
    expect((await request(node, 'DELETE', `/comments/${first.body.id}`, { token: a.accessToken })).status).to.equal(204);
    expect((await request(node, 'DELETE', `/comments/${first.body.id}`, { token: a.accessToken })).status).to.equal(404);
    const after = (await request(node, 'GET', `/characters/${characterId}/comments?limit=50`, { token: creator.accessToken })).body.items as { id: string; body: string; deleted: boolean }[];
    expect(after.find((c) => c.id === first.body.id)).to.include({ body: '', deleted: true });
    expect(after.find((c) => c.id === reply.body.id)).to.include({ body: '동의해요', deleted: false });
    expect((await request(node, 'GET', `/characters/${characterId}/like-status`, { token: a.accessToken })).body.commentCount).to.equal(5);
  });

  it('answers 404 for a private or deleted character, and 400 naming the field for bad input', async () => {
    const outsider = await newUser(node);
    const hidden = (await request(node, 'POST', '/characters', { token: creator.accessToken, body: { name: '비공개', isPublic: false } })).body.id;
    for (const [method, path, body] of [['POST', 'like'], ['GET', 'like-status'], ['GET', 'comments'], ['POST', 'comments', { body: '보여요?' }]] as const) {
      expect((await request(node, method, `/characters/${hidden}/${path}`, { token: outsider.accessToken, body })).status, `${method} ${path}`).to.equal(404);
    }
    const gone = (await request(node, 'POST', '/characters', { token: creator.accessToken, body: { name: '삭제될 캐릭터' } })).body.id;
    const comment = await request(node, 'POST', `/characters/${gone}/comments`, { token: outsider.accessToken, body: { body: '안녕' } });
    await request(node, 'DELETE', `/characters/${gone}`, { token: creator.accessToken });
    expect((await request(node, 'POST', `/characters/${gone}/like`, { token: outsider.accessToken })).status).to.equal(404);
    expect((await request(node, 'PUT', `/comments/${comment.body.id}`, { token: outsider.accessToken, body: { body: '수정' } })).status).to.equal(404);
    const bad = await request(node, 'POST', `/characters/${characterId}/comments`, { token: outsider.accessToken, body: { body: '', parentId: 'x' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).to.have.members(['body', 'parentId']);
    const orphanReply = await request(node, 'POST', `/characters/${characterId}/comments`, { token: outsider.accessToken, body: { body: '답글', parentId: comment.body.id } });
    expect(orphanReply.status).to.equal(400);
    expect(orphanReply.body.errors[0].field).to.equal('parentId');
  });
});
