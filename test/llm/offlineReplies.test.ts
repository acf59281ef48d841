// What the offline driver's chat replies say: plain text quoted from markdown context, and its own
// model name rather than the configured one, which never ran.
import { expect } from 'chai';
import type { ChatMessage } from '../../integrations/llm/index.ts';
import { createOfflineProvider, OFFLINE_CHAT_MODEL } from '../../integrations/llm/offline.ts';
import { createLogger } from '../../server/logger.ts';
import type { ApiNode } from '../../server/node.ts';
import { createLlmGateway } from '../../services/llm/gateway.ts';
import { DEFAULT_PRICES } from '../../services/llm/pricing.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

const MARKDOWN = /(^|\s)#{1,6}\s|\*\*|__|`|\]\(|(^|\s)[-*+]\s|\|/;

const context = `# 탑 라인 가이드

## 탑 라인 웨이브
- 탑 라인에서는 **웨이브를 천천히** 쌓아 _프리징_ 위치를 잡습니다.
1. 탑 라인 귀환은 \`대포 미니언\` 웨이브를 밀어 넣은 뒤에 합니다.
> 탑 라인 텔레포트는 [공식 가이드](https://example.com/tp)를 참고하세요.

| 탑 라인 | 핵심 |
|---|---|
| 탑 라인 웨이브 | 프리징 |

---
snake_case_name 같은 이름과 2*3 같은 식은 그대로 둡니다 탑 라인.`;

const messages: ChatMessage[] = [
  { role: 'system', content: context },
  { role: 'user', content: '탑 라인 웨이브는 어떻게 관리하나요?' },
];

describe('llm: the offline driver\'s replies', () => {
  const llm = createLlmGateway({
    provider: createOfflineProvider(),
    defaultModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    speechModel: 'tts-1',
    imageModel: 'gpt-image-1',
    priceTable: DEFAULT_PRICES,
    bulkheads: {},
    logger: createLogger({ level: 'silent', pretty: false, nodeId: 'test' }),
  }).forModule('coach');

  it('quote markdown context as plain text, without heading, list, emphasis, code, link or table marks', async () => {
    const r = await llm.chat({ messages });
    const body = r.text.replace(/^\[offline\] /, '');
    expect(r.text.startsWith('[offline] ')).to.equal(true);
    expect(body).to.not.match(MARKDOWN);
    expect(body).to.include('탑 라인');
    // The sentences keep their words; only the marks go.
    const quotes: [string, string][] = [
      ['웨이브를 천천히 쌓아 프리징', '탑 라인에서는 웨이브를 천천히 쌓아 프리징 위치를 잡습니다.'],
      ['대포 미니언 웨이브 귀환', '탑 라인 귀환은 대포 미니언 웨이브를 밀어 넣은 뒤에 합니다.'],
      ['텔레포트 공식 가이드', '탑 라인 텔레포트는 공식 가이드를 참고하세요.'],
      ['snake_case_name 2*3', 'snake_case_name 같은 이름과 2*3 같은 식은 그대로 둡니다 탑 라인.'],
    ];
    for (const [question, sentence] of quotes) {
      const reply = await llm.chat({ messages: [{ role: 'system', content: context }, { role: 'user', content: question }] });
      expect(reply.text, question).to.include(sentence);
      expect(reply.text.replace(/^\[offline\] /, ''), question).to.not.match(/#{1,6}\s|\*\*|`|\]\(|\|/);
    }
  });

  it('name the offline model, on chat and on streams, whatever model the call asks for', async () => {
    const chat = await llm.chat({ messages, model: 'gpt-4o' });
    expect(chat).to.include({ model: OFFLINE_CHAT_MODEL, provider: 'offline', costUsd: 0 });
    const { stream, result } = llm.streamChat({ messages });
    for await (const _ of stream) { /* drain */ }
    expect(await result).to.include({ model: OFFLINE_CHAT_MODEL, provider: 'offline' });
    expect(OFFLINE_CHAT_MODEL).to.equal('offline-extractive');
  });

  describe('through the coach', () => {
    let node: ApiNode;
    before(async () => {
      node = await startNode();
    });
    after(stopAllNodes);

    it('answers in plain text and reports model offline-extractive with provider offline', async () => {
      const admin = await newUser(node);
      await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
      const ingest = await request(node, 'POST', '/admin/coach/ingest', { token: admin.accessToken, body: { documents: [{ game: 'offlinemd', title: '탑 라인', content: context }] } });
      expect(ingest.status).to.equal(200);
      const u = await newUser(node);
      const res = await request(node, 'POST', '/api/coach/ask', { token: u.accessToken, body: { question: '탑 라인 웨이브는 어떻게 관리하나요?', game: 'offlinemd' } });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ model: 'offline-extractive', provider: 'offline' });
      expect(res.body.answer.replace(/^\[offline\] /, '')).to.not.match(MARKDOWN);
      const [row] = await node.ctx.db.orm.em.fork().execute<{ model: string }[]>('select model from coach_answers where id = ?', [res.body.answerId]);
      expect(row.model).to.equal('offline-extractive');
    });
  });
});
