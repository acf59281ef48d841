import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import type { ApiNode } from '../../server/node.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';
import { closeAllSockets, coach, connectSocket, connected, newUser, nextEvent, redisUrl, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const REPLY = '라인전에서는 미니언 웨이브를 관리하세요. 상대 정글 위치를 확인하고 와드를 설치하세요. 첫 귀환 타이밍은 골드와 웨이브 상태로 정합니다.';

// A client as the /coach protocol describes it: apply deltas at the offset it holds, ask for the
// rest when it sees a gap, finish on answer.done.
function answerCollector(socket: Socket, answerId: () => string | undefined, alreadyReceived = '') {
  let text = alreadyReceived;
  const deltas: { offset: number; text: string }[] = [];
  let done: any;
  let resolveDone!: (d: any) => void;
  const finished = new Promise<any>((r) => (resolveDone = r));
  socket.on('answer.delta', (d: { answerId: string; offset: number; text: string }) => {
    if (d.answerId !== answerId()) return;
    deltas.push(d);
    if (d.offset > text.length) {
      socket.emit('answer.resume', { answerId: d.answerId, offset: text.length }, () => undefined);
      return;
    }
    text += d.text.slice(text.length - d.offset);
  });
  socket.on('answer.done', (d: any) => {
    if (d.answerId !== answerId() || done) return;
    if (text.length < d.length) {
      socket.emit('answer.resume', { answerId: d.answerId, offset: text.length }, () => undefined);
      return;
    }
    done = d;
    resolveDone(d);
  });
  return { text: () => text, deltas, finished };
}

describe('coach: asking over /coach and REST', function () {
  let openai: FakeOpenAi;
  let a: ApiNode;
  let b: ApiNode | undefined;
  let admin: TestUser;

  before(async () => {
    openai = await startFakeOpenAi();
    openai.setReply(REPLY);
    const env = { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl, LLM_RETRY_BASE_MS: '5', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
    a = await startNode({ ...env, NODE_ID: 'coach-a' });
    if (redisUrl) b = await startNode({ ...env, NODE_ID: 'coach-b' });
    admin = await newUser(a);
    await a.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
    const ingest = await request(a, 'POST', '/admin/coach/ingest', {
      token: admin.accessToken,
      body: {
        documents: [
          { game: 'testgame', category: 'laning', tags: ['wave'], title: '웨이브 관리', content: '미니언 웨이브를 당기거나 밀어서 라인 주도권을 잡습니다. 프리징은 상대를 위험한 위치로 끌어냅니다.' },
          { game: 'testgame', category: 'laning', tags: ['recall'], title: '귀환 타이밍', content: '웨이브를 밀어 넣은 뒤 귀환하면 손해가 적습니다. 골드가 아이템 구매에 충분할 때 귀환합니다.' },
        ],
      },
    });
    expect(ingest.status, JSON.stringify(ingest.body)).to.be.oneOf([200, 201]);
  });
  afterEach(() => {
    closeAllSockets();
    openai.clear();
  });
  after(async () => {
    await stopAllNodes();
    await openai.close();
  });

  const calls = async (userId: string) => Number((await a.ctx.db.orm.em.fork().execute<{ n: string }[]>('select coalesce(sum(calls), 0) as n from coach_usage where user_id = ?', [userId]))[0].n);

  it('streams an answer with offsets, then its sources, usage, cost and remaining calls', async () => {
    const u = await newUser(a);
    const socket = connectSocket(a, '/coach', { token: u.accessToken });
    await connected(socket);
    let answerId: string | undefined;
    const collector = answerCollector(socket, () => answerId);
    const ack = await socket.emitWithAck('ask', { question: '라인전에서 웨이브 관리는 어떻게 하나요?', game: 'testgame', category: 'laning' });
    expect(ack.ok, JSON.stringify(ack)).to.equal(true);
    answerId = ack.answerId;
    const done = await collector.finished;
    expect(collector.text()).to.equal(REPLY);
    expect(collector.deltas.length).to.be.greaterThan(3);
    expect(collector.deltas[0].offset).to.equal(0);
    expect(done).to.include({ answerId, cached: false, planRemaining: 29, length: REPLY.length });
    expect(done.sources.length).to.be.within(1, 5);
    expect(done.usage.completionTokens).to.be.greaterThan(0);
    expect(done.costUsd).to.be.greaterThan(0);
    const history = await request(a, 'GET', `/api/coach/history/${answerId}`, { token: u.accessToken });
    expect(history.body).to.include({ answer: REPLY, status: 'done', cached: false });
  });

  it('answers over REST with X-Cost-USD and X-Plan-Remaining, and lists history with a cursor', async () => {
    const u = await newUser(a);
    const res = await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: '귀환 타이밍은 언제가 좋나요?', game: 'testgame' } });
    expect(res.status).to.equal(200);
    expect(res.body.answer).to.equal(REPLY);
    expect(Number(res.headers.get('x-cost-usd'))).to.be.greaterThan(0);
    expect(res.headers.get('x-plan-remaining')).to.equal('29');
    await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: '프리징은 무엇인가요?', game: 'testgame' } });
    const page1 = await request(a, 'GET', '/api/coach/history?limit=1', { token: u.accessToken });
    expect(page1.body.items).to.have.length(1);
    expect(page1.body.items[0].question).to.equal('프리징은 무엇인가요?');
    const page2 = await request(a, 'GET', `/api/coach/history?limit=1&cursor=${page1.body.nextCursor}`, { token: u.accessToken });
    expect(page2.body.items[0].question).to.equal('귀환 타이밍은 언제가 좋나요?');
    expect(page2.body.nextCursor).to.equal(null);
    expect((await request(a, 'GET', '/api/coach/history?cursor=garbage', { token: u.accessToken })).body.errors[0].field).to.equal('cursor');
  });

  it('serves the same question again from the short-TTL cache and another user\'s from the semantic cache, at $0', async () => {
    const u = await newUser(a);
    const question = `정글 동선은 어떻게 짜나요? ${crypto.randomUUID()}`;
    const first = await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question, game: 'testgame' } });
    expect(first.body.cached).to.equal(false);
    const before = openai.requests.filter((r) => r.path === '/v1/chat/completions').length;
    const again = await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: `  ${question}  `, game: 'testgame' } });
    expect(again.body).to.include({ cached: true, cacheKind: 'exact', costUsd: 0, answer: REPLY });
    expect(again.headers.get('x-cost-usd')).to.equal('0.000000');
    const other = await newUser(a);
    const semantic = await request(a, 'POST', '/api/coach/ask', { token: other.accessToken, body: { question, game: 'testgame' } });
    expect(semantic.body).to.include({ cached: true, cacheKind: 'semantic', costUsd: 0 });
    // A different scope (a category) is not served from those entries.
    const scoped = await request(a, 'POST', '/api/coach/ask', { token: other.accessToken, body: { question, game: 'testgame', category: 'laning' } });
    expect(scoped.body.cached).to.equal(false);
    expect(openai.requests.filter((r) => r.path === '/v1/chat/completions').length).to.equal(before + 1);
    // Cached answers are not counted against the plan.
    expect(await calls(u.id)).to.equal(1);
  });

  it('stops the 31st free call of the week even when 40 are sent at once', async () => {
    const u = await newUser(a);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: `질문 ${i} ${crypto.randomUUID()} ${'가나다라마바사'.slice(i % 7)}`, game: 'testgame' } })),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok.length + refused.length).to.equal(40);
    expect(ok.filter((r) => !r.body.cached)).to.have.length(30);
    expect(refused.length).to.equal(40 - ok.length);
    for (const r of refused) {
      expect(r.body.code).to.equal('quota_exceeded');
      expect(r.body.resetAt).to.match(/T00:00:00\+09:00$/);
    }
    expect(await calls(u.id)).to.equal(30);
  });

  it('refuses a question over the plan\'s prompt tokens (400, before any LLM call) and an unknown game', async () => {
    const u = await newUser(a);
    const before = openai.requests.length;
    const long = await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: '웨이브 '.repeat(700), game: 'testgame' } });
    expect(long.status).to.equal(400);
    expect(long.body.code).to.equal('question_too_long');
    expect(long.body.errors[0].field).to.equal('question');
    const unknown = await request(a, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: '안녕하세요?', game: 'no-such-game' } });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.errors[0].field).to.equal('game');
    expect(openai.requests.length).to.equal(before);
    expect(await calls(u.id)).to.equal(0);
  });

  it('cancels an answer: the upstream request is aborted and an answer with no text is not counted', async () => {
    const u = await newUser(a);
    openai.on({ path: '/v1/chat/completions', action: { kind: 'stall' } });
    const socket = connectSocket(a, '/coach', { token: u.accessToken });
    await connected(socket);
    const failed = nextEvent(socket, 'answer.error');
    const requestsBefore = openai.requests.length;
    const ack = await socket.emitWithAck('ask', { question: `멈춰 있는 질문 ${crypto.randomUUID()}`, game: 'testgame' });
    await openai.waitForRequests(requestsBefore + 2); // embedding + chat
    const chat = openai.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    expect((await socket.emitWithAck('cancel', { answerId: ack.answerId })).ok).to.equal(true);
    const error = await failed;
    expect(error).to.include({ answerId: ack.answerId, code: 'cancelled' });
    await chat.closed;
    expect(chat.closedEarly).to.equal(true);
    expect(await calls(u.id)).to.equal(0);
    const row = await request(a, 'GET', `/api/coach/history/${ack.answerId}`, { token: u.accessToken });
    expect(row.body.status).to.equal('cancelled');
  });

  it('gives the call back when the answer fails inside the server after text arrived, and records it; a user\'s cancel after text keeps it counted', async () => {
    const u = await newUser(a);
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 2, then: 'error' } });
    const socket = connectSocket(a, '/coach', { token: u.accessToken });
    await connected(socket);
    const failed = nextEvent(socket, 'answer.error');
    const ack = await socket.emitWithAck('ask', { question: `도중에 실패하는 질문 ${crypto.randomUUID()}`, game: 'testgame' });
    const error = await failed;
    expect(error).to.include({ answerId: ack.answerId, quotaReturned: true });
    expect(error.offset).to.be.greaterThan(0);
    expect(await calls(u.id)).to.equal(0);
    const [row] = await a.ctx.db.orm.em.fork().execute<{ status: string; quota_returned: boolean }[]>('select status, quota_returned from coach_answers where id = ?', [ack.answerId]);
    expect(row).to.deep.equal({ status: 'failed', quota_returned: true });

    openai.clear();
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 2, then: 'hang' } });
    const firstDelta = nextEvent(socket, 'answer.delta');
    const cancelledError = nextEvent(socket, 'answer.error');
    const second = await socket.emitWithAck('ask', { question: `취소할 질문 ${crypto.randomUUID()}`, game: 'testgame' });
    await firstDelta;
    await socket.emitWithAck('cancel', { answerId: second.answerId });
    expect(await cancelledError).to.include({ answerId: second.answerId, code: 'cancelled', quotaReturned: false });
    expect(await calls(u.id)).to.equal(1);
  });

  it('sweeps an answer a dead node left streaming: closed as answer_lost with its text, the call given back, once', async () => {
    const u = await newUser(a);
    const chat = coach(a);
    const plan = await chat.plans.planFor(u.id);
    await chat.quota.consume(u.id, plan);
    const orphan = crypto.randomUUID();
    await a.ctx.db.orm.em.fork().execute(
      `insert into coach_answers (id, user_id, game, question, answer, status, plan_tier, created_at) values (?, ?, 'testgame', '버려진 질문', '', 'streaming', ?, now() - interval '1 minute')`,
      [orphan, u.id, plan.tier],
    );
    expect(await calls(u.id)).to.equal(1);
    expect(await a.services.streams.sweep()).to.be.greaterThanOrEqual(1);
    const [row] = await a.ctx.db.orm.em.fork().execute<{ status: string; error_code: string; quota_returned: boolean }[]>('select status, error_code, quota_returned from coach_answers where id = ?', [orphan]);
    expect(row).to.deep.equal({ status: 'failed', error_code: 'answer_lost', quota_returned: true });
    expect(await calls(u.id)).to.equal(0);
    // Another sweep (another node's) changes nothing.
    await a.services.streams.sweep();
    expect(await calls(u.id)).to.equal(0);
  });

  it('acks a bad ask payload with validation_failed naming the field', async () => {
    const u = await newUser(a);
    const socket = connectSocket(a, '/coach', { token: u.accessToken });
    await connected(socket);
    const ack = await socket.emitWithAck('ask', { question: 'x', game: 'Bad Game!' });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('validation_failed');
    expect(ack.error.message).to.match(/question/).and.to.match(/game/);
  });

  it('resumes an answer cut off mid-stream on a second node, and charges it once', async function () {
    if (!b) return this.skip();
    const u = await newUser(a);
    openai.on({ path: '/v1/chat/completions', action: { kind: 'midstream', afterChunks: 3, then: 'hang' } });
    const first = connectSocket(a, '/coach', { token: u.accessToken });
    await connected(first);
    let answerId: string | undefined;
    const onA = answerCollector(first, () => answerId);
    const threeDeltas = new Promise<void>((resolve) => first.on('answer.delta', () => onA.deltas.length >= 3 && resolve()));
    const ack = await first.emitWithAck('ask', { question: `끊긴 답변 ${crypto.randomUUID()}`, game: 'testgame' });
    answerId = ack.answerId;
    await threeDeltas;
    const partial = onA.text();
    expect(partial.length).to.be.greaterThan(0);
    first.disconnect();

    // The client comes back on the other node and asks for what it missed.
    const second = connectSocket(b, '/coach', { token: u.accessToken });
    await connected(second);
    const onB = answerCollector(second, () => answerId, partial);
    const ackB = await second.emitWithAck('answer.resume', { answerId, offset: partial.length });
    expect(ackB).to.include({ ok: true, status: 'streaming', nextOffset: partial.length });
    // The generation is still running on node A; it goes on while the client is away.
    openai.release();
    const done = await onB.finished;
    expect(onB.text()).to.equal(REPLY);
    expect(done).to.include({ answerId, length: REPLY.length });
    const full = (await request(b, 'GET', `/api/coach/history/${answerId}`, { token: u.accessToken })).body;
    expect(full).to.include({ answer: REPLY, status: 'done' });
    expect(await calls(u.id)).to.equal(1);
    const rows = await a.ctx.db.orm.em.fork().execute<{ n: string }[]>('select count(*) as n from coach_answers where id = ?', [answerId]);
    expect(Number(rows[0].n)).to.equal(1);
  });
});
