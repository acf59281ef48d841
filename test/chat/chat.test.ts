// Rooms and replies end to end against the fake OpenAI server: streamed over /chat, priced in
// points (held, settled, released), once per clientMessageId, resumable on another node.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import type { ApiNode } from '../../server/node.ts';
import { moduleServices } from '../../server/context.ts';
import { chatModule } from '../../modules/chat/index.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, redisUrl, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const REPLY = '어서 오세요. 오늘 밤엔 바다에 관한 책이 잘 어울려요. 이 책은 등대지기의 일기랍니다.';

// A client as the /chat protocol describes it: deltas applied at the offset it holds, done once complete.
function replyCollector(socket: Socket, messageId: () => string | undefined) {
  let text = '';
  let resolveDone!: (d: any) => void;
  let rejectDone!: (e: any) => void;
  const finished = new Promise<any>((resolve, reject) => ((resolveDone = resolve), (rejectDone = reject)));
  socket.on('message.delta', (d: { messageId: string; offset: number; text: string }) => {
    if (d.messageId !== messageId() || d.offset > text.length) return;
    text += d.text.slice(text.length - d.offset);
  });
  socket.on('message.done', (d: any) => d.message.id === messageId() && resolveDone(d));
  socket.on('message.error', (e: any) => e.messageId === messageId() && rejectDone(e));
  return { text: () => text, finished };
}

describe('chat: rooms and streamed replies priced in points', function () {
  let openai: FakeOpenAi;
  let a: ApiNode;
  let b: ApiNode | undefined;
  let u: TestUser;
  let characterId: string;

  before(async () => {
    openai = await startFakeOpenAi();
    openai.setReply(REPLY);
    const env = { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl, LLM_RETRY_BASE_MS: '5', CHAT_REPLY_POINTS: '10', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
    a = await startNode({ ...env, NODE_ID: 'chat-a' });
    if (redisUrl) b = await startNode({ ...env, NODE_ID: 'chat-b' });
    u = await newUser(a);
    const character = await request(a, 'POST', '/characters', {
      token: u.accessToken,
      body: {
        name: '서하린', greeting: '어서 오세요.', hasAffinitySystem: true,
        affinityRules: [{ trigger: '고마워', delta: 5 }], affinityStages: [{ name: '낯섦', minScore: 0 }, { name: '친밀', minScore: 5 }],
      },
    });
    characterId = character.body.id;
  });
  afterEach(() => {
    closeAllSockets();
    openai.clear();
  });
  after(async () => {
    await stopAllNodes();
    await openai.close();
  });

  const points = () => a.services.points;
  const credit = (user: TestUser, amount: number) => points().credit(user.id, { amount, idempotencyKey: crypto.randomUUID() });
  const openRoom = async (user: TestUser) => (await request(a, 'POST', '/chat/rooms', { token: user.accessToken, body: { characterId } })).body;

  it('opens a room with the greeting, streams a reply over /chat, charges it once, and a resend with the same clientMessageId does nothing twice', async () => {
    await credit(u, 100);
    const room = await openRoom(u);
    expect(room).to.include({ characterId, messageCount: 1, characterName: '서하린' });
    const socket = connectSocket(a, '/chat', { token: u.accessToken });
    await connected(socket);
    const joined = await socket.emitWithAck('room.join', { roomId: room.id, afterSeq: 0 });
    expect(joined.ok).to.equal(true);
    expect(joined.missed.map((m: { content: string }) => m.content)).to.deep.equal(['어서 오세요.']);
    let replyId: string | undefined;
    const reply = replyCollector(socket, () => replyId);
    const clientMessageId = crypto.randomUUID();
    const ack = await socket.emitWithAck('message.send', { roomId: room.id, content: '고마워요, 책 추천해 주세요', clientMessageId });
    expect(ack.ok, JSON.stringify(ack)).to.equal(true);
    replyId = ack.replyId;
    expect(ack.userMessage).to.include({ seq: 2, senderType: 'user', clientMessageId });
    const done = await reply.finished;
    expect(reply.text()).to.equal(REPLY);
    expect(done).to.deep.include({ pointsCharged: 10, balance: 90, affinity: { score: 5, stage: '친밀' } });
    expect(done.message).to.include({ id: replyId, seq: 3, status: 'done', content: REPLY });
    // The same message again (a client retrying after a dropped ack): the same ids, nothing charged.
    const again = await socket.emitWithAck('message.send', { roomId: room.id, content: '고마워요, 책 추천해 주세요', clientMessageId });
    expect(again).to.include({ ok: true, replyId, replayed: true });
    expect((await points().balance(u.id)).balance).to.equal(90);
    const listed = await request(a, 'GET', `/chat/rooms/${room.id}/messages`, { token: u.accessToken });
    expect(listed.body.items.map((m: { seq: number }) => m.seq)).to.deep.equal([3, 2, 1]);
    expect((await request(a, 'GET', `/chat/rooms/${room.id}`, { token: u.accessToken })).body.affinity).to.deep.equal({ score: 5, stage: '친밀' });
  });

  it('warns once when a charge takes the balance below the low threshold (chat.points_low)', async () => {
    const user = await newUser(a);
    await credit(user, 35);
    const room = await openRoom(user);
    for (const content of ['하나', '둘']) {
      const res = await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content, clientMessageId: crypto.randomUUID() } });
      expect(res.status).to.equal(200);
    }
    // 35 → 25 (above 20), → 15 (below: warned); a third charge below it would not warn again.
    // Sent in the background after the charge.
    let warned: number[] = [];
    for (let i = 0; i < 40 && warned.length === 0; i++) {
      const inbox = (await request(a, 'GET', '/notifications', { token: user.accessToken })).body.items as { type: string; data: { balance: number } }[];
      warned = inbox.filter((n) => n.type === 'chat.points_low').map((n) => n.data.balance);
      if (warned.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(warned).to.deep.equal([15]);
  });

  it('refuses a reply the balance cannot pay for with 402 insufficient_points, storing and generating nothing', async () => {
    const poor = await newUser(a);
    await credit(poor, 5);
    const room = await openRoom(poor);
    const requestsBefore = openai.requests.length;
    const res = await request(a, 'POST', '/chat/messages', { token: poor.accessToken, body: { roomId: room.id, content: '안녕', clientMessageId: crypto.randomUUID() } });
    expect(res.status).to.equal(402);
    expect(res.body).to.include({ code: 'insufficient_points', title: 'Payment Required', balance: 5, required: 10 });
    expect((await request(a, 'GET', `/chat/rooms/${room.id}/messages`, { token: poor.accessToken })).body.items).to.have.length(1);
    expect(openai.requests.length).to.equal(requestsBefore);
  });

  it('releases the held points of a cancelled reply, and of one that fails inside the server', async () => {
    const user = await newUser(a);
    await credit(user, 50);
    const room = await openRoom(user);
    const socket = connectSocket(a, '/chat', { token: user.accessToken });
    await connected(socket);
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 2, then: 'hang' } });
    const firstDelta = nextEvent(socket, 'message.delta');
    const failed = nextEvent<any>(socket, 'message.error');
    const ack = await socket.emitWithAck('message.send', { roomId: room.id, content: '긴 이야기 해 주세요', clientMessageId: crypto.randomUUID() });
    await firstDelta;
    expect((await points().balance(user.id)).balance).to.equal(40);
    expect((await socket.emitWithAck('message.cancel', { messageId: ack.replyId })).ok).to.equal(true);
    expect(await failed).to.include({ messageId: ack.replyId, code: 'cancelled', pointsCharged: 0 });
    expect((await points().balance(user.id)).balance).to.equal(50);
    openai.clear();
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 2, then: 'error' } });
    const res = await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content: '다시 해 주세요', clientMessageId: crypto.randomUUID() } });
    expect(res.status).to.be.within(500, 503);
    expect((await points().balance(user.id)).balance).to.equal(50);
    const messages = (await request(a, 'GET', `/chat/rooms/${room.id}/messages`, { token: user.accessToken })).body.items;
    expect(messages.filter((m: { status: string }) => m.status !== 'done').map((m: { status: string }) => m.status).sort()).to.deep.equal(['cancelled', 'failed']);
  });

  it('regenerates the last reply and edits the last turn, superseding the old messages; each new reply is charged once', async () => {
    const user = await newUser(a);
    await credit(user, 100);
    const room = await openRoom(user);
    const first = await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content: '첫 질문', clientMessageId: crypto.randomUUID() } });
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    openai.setReply('다시 생각해 보니 산에 관한 책이 좋겠어요.');
    const regenerated = await request(a, 'POST', `/chat/rooms/${room.id}/regenerate`, { token: user.accessToken });
    expect(regenerated.status, JSON.stringify(regenerated.body)).to.equal(200);
    expect(regenerated.body.reply.message).to.include({ content: '다시 생각해 보니 산에 관한 책이 좋겠어요.', replyTo: first.body.userMessage.id });
    const edited = await request(a, 'PUT', `/chat/messages/${first.body.userMessage.id}`, { token: user.accessToken, body: { content: '고친 질문' } });
    expect(edited.status, JSON.stringify(edited.body)).to.equal(200);
    expect(edited.body.userMessage.content).to.equal('고친 질문');
    const all = (await request(a, 'GET', `/chat/rooms/${room.id}/messages`, { token: user.accessToken })).body.items;
    expect(all.filter((m: { superseded: boolean }) => !m.superseded).map((m: { content: string }) => m.content).reverse()).to.deep.equal(['어서 오세요.', '고친 질문', '다시 생각해 보니 산에 관한 책이 좋겠어요.']);
    expect((await points().balance(user.id)).balance).to.equal(70);
    const context = await request(a, 'GET', `/chat/messages/${edited.body.reply.message.id}/context`, { token: user.accessToken });
    expect(context.body.context).to.include({ hold: 10 });
    // Someone else's room and message are 404.
    const other = await newUser(a);
    expect((await request(a, 'GET', `/chat/rooms/${room.id}/messages`, { token: other.accessToken })).status).to.equal(404);
    expect((await request(a, 'GET', `/chat/messages/${edited.body.reply.message.id}/context`, { token: other.accessToken })).status).to.equal(404);
  });

  it('resumes a reply on another node, and a reconnecting client gets the messages it missed', async function () {
    if (!b) return this.skip();
    openai.setReply(REPLY);
    const user = await newUser(a);
    await credit(user, 100);
    const room = await openRoom(user);
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 3, then: 'hang' } });
    const first = connectSocket(a, '/chat', { token: user.accessToken });
    await connected(first);
    let replyId: string | undefined;
    const onA = replyCollector(first, () => replyId);
    const threeDeltas = new Promise<void>((resolve) => {
      let n = 0;
      first.on('message.delta', () => ++n === 3 && resolve());
    });
    const ack = await first.emitWithAck('message.send', { roomId: room.id, content: '이야기 들려주세요', clientMessageId: crypto.randomUUID() });
    replyId = ack.replyId;
    await threeDeltas;
    const partial = onA.text();
    first.disconnect();
    const second = connectSocket(b, '/chat', { token: user.accessToken });
    await connected(second);
    const joined = await second.emitWithAck('room.join', { roomId: room.id, afterSeq: 1 });
    expect(joined.missed.map((m: { seq: number }) => m.seq)).to.deep.equal([2, 3]);
    const done = nextEvent<any>(second, 'message.done');
    const resumed = await second.emitWithAck('message.resume', { messageId: replyId, offset: partial.length });
    expect(resumed).to.include({ ok: true, status: 'streaming', nextOffset: partial.length });
    openai.release();
    expect((await done).message).to.include({ id: replyId, content: REPLY });
    expect((await points().balance(user.id)).balance).to.equal(90);
  });

  it('closes a reply its node left streaming (the log forgot it): a resumer gets message.error answer_lost and the held points come back', async () => {
    const user = await newUser(a);
    await credit(user, 30);
    const room = await openRoom(user);
    const hold = await points().reserve(user.id, { amount: 10, idempotencyKey: crypto.randomUUID() });
    const orphan = crypto.randomUUID();
    await a.ctx.db.orm.em.fork().execute(
      `insert into chat_messages (id, room_id, seq, sender_type, content, status, reservation_id) values (?, ?, 2, 'character', '반쯤 쓴', 'streaming', ?)`,
      [orphan, room.id, hold.id],
    );
    expect((await points().balance(user.id)).balance).to.equal(20);
    const socket = connectSocket(a, '/chat', { token: user.accessToken });
    await connected(socket);
    const lost = nextEvent<any>(socket, 'message.error');
    const ack = await socket.emitWithAck('message.resume', { messageId: orphan, offset: 0 });
    expect(ack).to.include({ ok: true, status: 'failed' });
    expect(await lost).to.include({ messageId: orphan, roomId: room.id, code: 'answer_lost', pointsCharged: 0 });
    expect((await points().balance(user.id)).balance).to.equal(30);
    const [row] = await a.ctx.db.orm.em.fork().execute<{ status: string; content: string }[]>('select status, content from chat_messages where id = ?', [orphan]);
    expect(row).to.deep.equal({ status: 'failed', content: '반쯤 쓴' });
  });

  it('injects lorebook entries a message triggers, records which and why, and keeps the room\'s lorebook state', async () => {
    const user = await newUser(a);
    await credit(user, 100);
    const lorebook = {
      scanDepth: 2,
      entries: [
        { id: 'lighthouse', keys: ['등대'], content: 'LORE-LIGHTHOUSE: 등대지기는 밤마다 책을 읽는다.', cooldown: 3 },
        { id: 'always', constant: true, content: 'LORE-ALWAYS: 도서관은 밤에만 연다.' },
        { id: 'secret', keys: ['지하'], enabledBy: ['lighthouse'], content: 'LORE-SECRET: 지하 서고가 있다.' },
      ],
    };
    const c = await request(a, 'POST', '/characters', { token: user.accessToken, body: { name: '사서', lorebook } });
    const room = (await request(a, 'POST', '/chat/rooms', { token: user.accessToken, body: { characterId: c.body.id } })).body;
    const say = async (content: string) => {
      const res = await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content, clientMessageId: crypto.randomUUID() } });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const prompt = JSON.stringify(openai.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.body);
      const context = (await request(a, 'GET', `/chat/messages/${res.body.reply.message.id}/context`, { token: user.accessToken })).body.context;
      return { prompt, injected: context.lore.injected.map((i: { id: string; reason: { kind: string } }) => `${i.id}:${i.reason.kind}`) };
    };
    // 지하 is named, but its entry waits for the lighthouse entry's first hit.
    const first = await say('지하에 뭐가 있나요? 등대 이야기도 해 주세요');
    expect(first.injected).to.have.members(['always:constant', 'lighthouse:keyword']);
    expect(first.prompt).to.include('LORE-LIGHTHOUSE').and.include('LORE-ALWAYS').and.not.include('LORE-SECRET');
    const second = await say('지하 서고 말인데요, 등대는요?');
    expect(second.injected).to.include('secret:keyword').and.not.include('lighthouse:keyword');
    expect(second.prompt).to.include('LORE-SECRET').and.not.include('LORE-LIGHTHOUSE');
    // An edit of the character reaches the next reply at once (nodes cache the parsed character).
    const edited = { ...lorebook, entries: [...lorebook.entries, { id: 'new', keys: ['바다'], content: 'LORE-SEA: 바다 서가는 3층이다.' }] };
    expect((await request(a, 'PUT', `/characters/${c.body.id}`, { token: user.accessToken, body: { name: '사서', lorebook: edited } })).status).to.equal(200);
    expect((await say('바다 책은 어디 있어요?')).prompt).to.include('LORE-SEA');
    // A character its creator made private is gone for everyone else's rooms too.
    const guest = await newUser(a);
    await credit(guest, 50);
    const guestRoom = (await request(a, 'POST', '/chat/rooms', { token: guest.accessToken, body: { characterId: c.body.id } })).body;
    expect((await request(a, 'PUT', `/characters/${c.body.id}`, { token: user.accessToken, body: { name: '사서', lorebook: edited, isPublic: false } })).status).to.equal(200);
    const refused = await request(a, 'POST', '/chat/messages', { token: guest.accessToken, body: { roomId: guestRoom.id, content: '안녕', clientMessageId: crypto.randomUUID() } });
    expect(refused.status).to.equal(404);
  });

  it('tells your other devices that you are typing, and refuses rooms that are not yours', async () => {
    const room = await openRoom(u);
    const phone = connectSocket(a, '/chat', { token: u.accessToken });
    const laptop = connectSocket(a, '/chat', { token: u.accessToken });
    await Promise.all([connected(phone), connected(laptop)]);
    const seen = nextEvent(laptop, 'typing.indicator');
    let echoed = false;
    phone.on('typing.indicator', () => (echoed = true));
    expect((await phone.emitWithAck('typing', { roomId: room.id, typing: true })).ok).to.equal(true);
    expect(await seen).to.deep.equal({ roomId: room.id, typing: true });
    expect(echoed).to.equal(false);
    const stranger = await newUser(a);
    const theirs = connectSocket(a, '/chat', { token: stranger.accessToken });
    await connected(theirs);
    const refused = await theirs.emitWithAck('room.join', { roomId: room.id });
    expect(refused).to.deep.include({ ok: false });
    expect(refused.error.code).to.equal('not_found');
  });

  it('folds messages older than the memory window into a summary in the background', async () => {
    const user = await newUser(a);
    await credit(user, 1000);
    const small = await request(a, 'POST', '/characters', { token: user.accessToken, body: { name: '요약 테스트', settings: { memoryLength: 2 } } });
    const room = (await request(a, 'POST', '/chat/rooms', { token: user.accessToken, body: { characterId: small.body.id } })).body;
    for (let i = 0; i < 7; i++) {
      const res = await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content: `메시지 ${i}`, clientMessageId: crypto.randomUUID() } });
      expect(res.status).to.equal(200);
    }
    const chat = moduleServices(a.services, chatModule);
    const character = await chat.characters.forChat(small.body.id, user.id);
    // The background refresh after the sixth reply summarised seq 1..10; this one finds too few new ones.
    await chat.memory.refresh(room.id, character);
    const [row] = await a.ctx.db.orm.em.fork().execute<{ summary: string; summary_through: string }[]>('select summary, summary_through from chat_rooms where id = ?', [room.id]);
    expect(row.summary.length).to.be.greaterThan(0);
    expect(Number(row.summary_through)).to.be.within(10, 12);
    // The summary, not the old messages, is in the next prompt.
    openai.clear();
    await request(a, 'POST', '/chat/messages', { token: user.accessToken, body: { roomId: room.id, content: '마지막', clientMessageId: crypto.randomUUID() } });
    const prompt = JSON.stringify(openai.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!.body);
    expect(prompt).to.include('Earlier in this conversation (summary)');
    expect(prompt).to.not.include('메시지 0');
  });
});
