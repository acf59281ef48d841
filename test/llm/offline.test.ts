// The offline LLM driver: deterministic, labelled offline, and doing real lexical work.
import { expect } from 'chai';
import sharp from 'sharp';
import { createOfflineProvider, hashedNgramEmbedding } from '../../integrations/llm/offline.ts';
import { cosineSimilarity as cosine } from '../../workers/vector.ts';
import type { ChatMessage } from '../../integrations/llm/index.ts';
import { createLogger } from '../../server/logger.ts';
import { coachModule } from '../../modules/coach/index.ts';
import type { LlmError } from '../../services/llm/errors.ts';
import { createLlmGateway } from '../../services/llm/gateway.ts';
import { DEFAULT_PRICES } from '../../services/llm/pricing.ts';

const context = [
  '산책은 하루 두 번, 30분씩이 적당합니다.',
  '비밀번호를 잊으셨다면 로그인 화면에서 비밀번호 재설정을 누르세요.',
  '구독은 설정 메뉴에서 언제든 해지할 수 있습니다.',
].join('\n');

const messages: ChatMessage[] = [
  { role: 'system', content: `You answer from this help text only.\n${context}` },
  { role: 'user', content: '비밀번호를 잊어버렸어요. 어떻게 재설정하나요?' },
];

function offlineGateway() {
  return createLlmGateway({
    provider: createOfflineProvider(),
    defaultModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    speechModel: 'tts-1',
    imageModel: 'gpt-image-1',
    priceTable: DEFAULT_PRICES,
    bulkheads: { coach: coachModule.llmBulkhead! },
    logger: createLogger({ level: 'silent', pretty: false, nodeId: 'test' }),
  });
}

describe('llm: offline driver', () => {
  const llm = offlineGateway().forModule('coach');

  it('streams a deterministic reply quoting the context most relevant to the question, labelled offline', async () => {
    const run = async () => {
      const { stream, result } = llm.streamChat({ messages });
      const deltas: string[] = [];
      for await (const d of stream) deltas.push(d);
      return { deltas, result: await result };
    };
    const a = await run();
    const b = await run();
    expect(a.deltas).to.deep.equal(b.deltas);
    expect(a.deltas.length).to.be.greaterThan(3);
    expect(a.result.text).to.equal(a.deltas.join(''));
    expect(a.result.text.startsWith('[offline] ')).to.equal(true);
    expect(a.result.text).to.include('비밀번호 재설정을 누르세요');
    expect(a.result.text).to.not.include('구독은');
    expect(a.result).to.include({ provider: 'offline', costUsd: 0, usageEstimated: false });
    expect(a.result.usage.completionTokens).to.be.greaterThan(0);
  });

  it('says so when nothing in the context matches', async () => {
    const r = await llm.chat({ messages: [{ role: 'user', content: 'xyzzy plugh' }] });
    expect(r.text).to.match(/^\[offline\] No context matches/);
    expect(r.provider).to.equal('offline');
  });

  it('stops at max_tokens with finish reason "length"', async () => {
    const r = await llm.chat({ messages, maxTokens: 5 });
    expect(r.finishReason).to.equal('length');
    expect(r.usage.completionTokens).to.be.at.most(5);
  });

  it('honours an abort mid-stream', async () => {
    const controller = new AbortController();
    const { stream, result } = llm.streamChat({ messages, signal: controller.signal });
    let error: LlmError | undefined;
    try {
      for await (const _ of stream) controller.abort();
    } catch (err) {
      error = err as LlmError;
    }
    expect(error?.code).to.equal('llm_cancelled');
    await result.catch(() => undefined);
  });

  it('embeds with hashed character n-grams: a Korean paraphrase ranks above an unrelated sentence', async () => {
    const query = '비밀번호를 잊어버렸어요';
    const paraphrase = '비밀번호가 기억나지 않을 때 재설정하는 방법';
    const unrelated = '강아지와 한강 공원을 산책했어요';
    const r = await llm.embed([query, paraphrase, unrelated]);
    expect(r).to.include({ provider: 'offline', costUsd: 0 });
    const [q, p, u] = r.vectors;
    expect(q).to.have.length(512);
    expect(Math.hypot(...q)).to.be.closeTo(1, 1e-9);
    expect(cosine(q, p)).to.be.greaterThan(cosine(q, u) + 0.1);
    // Deterministic: the same text, the same vector.
    expect(hashedNgramEmbedding(query)).to.deep.equal(q);
  });

  it('synthesises a valid WAV whose header says it is offline output', async () => {
    const r = await llm.speech({ input: '오늘도 잘 달렸어요!' });
    expect(r).to.include({ provider: 'offline', format: 'wav', contentType: 'audio/wav', costUsd: 0 });
    expect(r.audio.subarray(0, 4).toString()).to.equal('RIFF');
    expect(r.audio.subarray(8, 12).toString()).to.equal('WAVE');
    expect(r.audio.readUInt32LE(4)).to.equal(r.audio.length - 8);
    expect(r.audio.includes(Buffer.from('[offline]'))).to.equal(true);
  });

  it('generates small PNGs coloured by the prompt, labelled offline', async () => {
    const r = await llm.generateImage({ prompt: 'a corgi on a beach', size: '1024x1536', n: 2 });
    expect(r).to.include({ provider: 'offline', costUsd: 0 });
    expect(r.images).to.have.length(2);
    const png = Buffer.from(r.images[0].b64!, 'base64');
    const meta = await sharp(png).metadata();
    expect(meta).to.include({ format: 'png', width: 171, height: 256 });
    expect(r.images[0].revisedPrompt).to.equal('[offline] a corgi on a beach');
    const again = await llm.generateImage({ prompt: 'a corgi on a beach', size: '1024x1536' });
    expect(again.images[0].b64).to.equal(r.images[0].b64);
    expect(r.images[1].b64).to.not.equal(r.images[0].b64);
  });
});
