import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { hashedNgramEmbedding } from '../../integrations/llm/offline.ts';
import { cosineSimilarity as cosine } from '../../workers/vector.ts';
import { chunkDocument } from '../../services/coach/chunking.ts';
import type { Passage } from '../../services/coach/knowledge.ts';
import { listKnowledgeFiles, readKnowledgeFiles } from '../../services/coach/knowledgeFiles.ts';
import { createPromptService } from '../../services/coach/prompts.ts';
import { countTextTokens } from '../../services/llm/tokens.ts';

const free = { tier: 'free', name: '무료', model: 'gpt-4o-mini', maxAnswerTokens: 2000 };
const basic = { tier: 'basic', name: '베이직', model: 'gpt-4o-mini', maxAnswerTokens: 4000 };

function passage(n: number, over: Partial<Passage> = {}): Passage {
  return { chunkId: `c${n}`, documentId: `d${n}`, title: `제목 ${n}`, text: `본문 ${n} <b>&</b>`, score: 1 - n / 10, url: null, category: null, tags: [], ...over };
}

describe('coach prompts: nunjucks templates', () => {
  const prompts = createPromptService();

  it('renders the game\'s own template with numbered, titled passages, the plan and the scope; the question is the user message', () => {
    const out = prompts.render({ game: 'lol', passages: [passage(1, { url: 'https://example.com/w' }), passage(2)], plan: free, question: '웨이브 프리징은 언제 하나요?', category: 'laning', tags: ['wave-management'] });
    expect(out.messages.map((m) => m.role)).to.deep.equal(['system', 'user']);
    const system = out.messages[0].content;
    expect(system).to.include('리그 오브 레전드');
    expect(system).to.include('[1] 제목 1 (https://example.com/w)\n본문 1 <b>&</b>\n\n[2] 제목 2\n본문 2');
    expect(system).to.include('[2] 제목 2');
    expect(system).to.match(/\[1\], \[2\]처럼 자료 번호/);
    expect(system).to.include('자료에는 이 내용이 없습니다');
    expect(system).to.include('질문 분야: laning');
    expect(system).to.include('관련 태그: wave-management');
    expect(system).to.include('무료 요금제');
    expect(system).to.include('3~6문장');
    expect(system).to.not.include('웨이브 프리징은 언제 하나요?');
    expect(out.messages[1].content).to.equal('웨이브 프리징은 언제 하나요?');
    expect(out.templateVersion).to.match(/^lol@[0-9a-f]{16}$/);

    const paid = prompts.render({ game: 'valorant', passages: [], plan: basic, question: 'q' });
    expect(paid.messages[0].content).to.include('발로란트');
    expect(paid.messages[0].content).to.include('4000 토큰');
    expect(paid.messages[0].content).to.include('참고 자료를 찾지 못했습니다');
    expect(paid.messages[0].content).to.not.include('질문 분야');
    expect(paid.templateVersion).to.match(/^valorant@/);
  });

  it('falls back to default.njk for other games, and never loads a template named by a path', () => {
    const other = prompts.render({ game: 'starcraft', passages: [passage(1)], plan: free, question: 'q' });
    expect(other.templateVersion).to.match(/^default@/);
    expect(other.messages[0].content).to.include('"starcraft"');
    expect(prompts.render({ game: '../../etc/passwd', passages: [], plan: free, question: 'q' }).templateVersion).to.match(/^default@/);
    expect(prompts.render({ game: 'default', passages: [], plan: free, question: 'q' }).templateVersion).to.equal(other.templateVersion);
  });

  it('derives templateVersion from the template sources: same text same version, an edited parent changes its children', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coach-templates-'));
    try {
      for (const f of fs.readdirSync('templates/coach')) fs.copyFileSync(path.join('templates/coach', f), path.join(dir, f));
      const copy = createPromptService({ dir });
      const v = (p: ReturnType<typeof createPromptService>, game: string) => p.render({ game, passages: [], plan: free, question: 'q' }).templateVersion;
      expect(v(copy, 'lol')).to.equal(v(prompts, 'lol'));
      expect(v(copy, 'lol')).to.not.equal(v(copy, 'valorant'));
      fs.appendFileSync(path.join(dir, 'valorant.njk'), '\n{# edited #}\n');
      const edited = createPromptService({ dir });
      expect(v(edited, 'valorant')).to.not.equal(v(prompts, 'valorant'));
      expect(v(edited, 'lol')).to.equal(v(prompts, 'lol'));
      fs.appendFileSync(path.join(dir, 'default.njk'), '\n{# edited #}\n');
      const parentEdited = createPromptService({ dir });
      expect(v(parentEdited, 'lol')).to.not.equal(v(prompts, 'lol'));
      expect(v(parentEdited, 'starcraft')).to.not.equal(v(prompts, 'starcraft'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('coach knowledge: the shipped knowledge set', () => {
  const { documents, problems } = readKnowledgeFiles(listKnowledgeFiles('data/knowledge'));

  it('parses without problems: two games, 15–30 documents, each with a category and tags', () => {
    expect(problems).to.deep.equal([]);
    expect(documents.length).to.be.within(15, 30);
    expect(new Set(documents.map((d) => d.document.game))).to.deep.equal(new Set(['lol', 'valorant']));
    for (const { document: d, file } of documents) {
      expect(d.category, file).to.be.a('string');
      expect(d.tags.length, file).to.be.greaterThan(0);
      expect(d.content.length, file).to.be.greaterThan(600);
      for (const c of chunkDocument(d.content, { countTokens: countTextTokens })) expect(c.tokens, file).to.be.at.most(1200);
    }
  });

  it('answers typical questions from the right document with the offline embedder', () => {
    const chunks = documents.flatMap(({ document: d }) => chunkDocument(d.content, { countTokens: countTextTokens })
      .map((c) => ({ game: d.game, title: d.title, vector: hashedNgramEmbedding(`${d.title}\n${c.text}`) })));
    const best = (game: string, question: string) => {
      const q = hashedNgramEmbedding(question);
      return chunks.filter((c) => c.game === game).sort((a, b) => cosine(q, b.vector) - cosine(q, a.vector))[0].title;
    };
    expect(best('lol', '웨이브 프리징은 언제 하나요?')).to.match(/웨이브 관리/);
    expect(best('lol', '정글 갱킹은 언제 가야 하나요?')).to.match(/정글/);
    expect(best('lol', '6레벨 궁극기 타이밍')).to.match(/파워 스파이크/);
    expect(best('lol', '제어 와드는 어디에 두나요?')).to.match(/시야/);
    expect(best('lol', '드래곤은 언제 나오나요?')).to.match(/오브젝트/);
    expect(best('valorant', '연패 보너스 크레딧은 얼마인가요?')).to.match(/경제/);
    expect(best('valorant', '스파이크 해체 시간은?')).to.match(/스파이크/);
    expect(best('valorant', '밴달과 팬텀 중 무엇을 사야 하나요?')).to.match(/무기/);
    expect(best('valorant', '에코 라운드는 언제 하나요?')).to.match(/구매 라운드/);
    expect(best('valorant', '크로스헤어는 어디에 둬야 하나요?')).to.match(/조준/);
  });
});
