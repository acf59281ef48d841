// The LLM gateway over the REAL openai SDK client, against a fake that speaks OpenAI's wire format.
import { expect } from 'chai';
import sharp from 'sharp';
import { createOpenAiProvider } from '../../integrations/llm/openai.ts';
import type { ChatMessage } from '../../integrations/llm/index.ts';
import { createLogger } from '../../server/logger.ts';
import { coachModule } from '../../modules/coach/index.ts';
import type { LlmError } from '../../services/llm/errors.ts';
import { createLlmGateway, type LlmGatewayOptions } from '../../services/llm/gateway.ts';
import { DEFAULT_PRICES } from '../../services/llm/pricing.ts';
import { countChatTokens, countTextTokens } from '../../services/llm/tokens.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';

const silent = createLogger({ level: 'silent', pretty: false, nodeId: 'test' });
const question: ChatMessage[] = [
  { role: 'system', content: 'You are a friendly running coach.' },
  { role: 'user', content: '오늘 5km 달리기 전에 무엇을 먹을까요?' },
];

async function rejection(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (err) {
    return err as LlmError;
  }
  return expect.fail('expected the call to fail');
}

async function collect(stream: AsyncIterable<string>): Promise<{ deltas: string[]; error?: LlmError }> {
  const deltas: string[] = [];
  try {
    for await (const d of stream) deltas.push(d);
  } catch (err) {
    return { deltas, error: err as LlmError };
  }
  return { deltas };
}

describe('llm: gateway over the openai client', () => {
  let fake: FakeOpenAi;
  beforeEach(async () => {
    fake = await startFakeOpenAi();
  });
  afterEach(() => fake.close());

  function gateway(overrides: Partial<LlmGatewayOptions> = {}, provider: { timeoutMs?: number; apiKey?: string } = {}) {
    return createLlmGateway({
      provider: createOpenAiProvider({ apiKey: provider.apiKey ?? fake.apiKey, baseUrl: fake.baseUrl, timeoutMs: provider.timeoutMs ?? 5000 }),
      defaultModel: 'gpt-4o-mini',
      embeddingModel: 'text-embedding-3-small',
      speechModel: 'tts-1',
      imageModel: 'gpt-image-1',
      priceTable: DEFAULT_PRICES,
      bulkheads: { coach: coachModule.llmBulkhead! },
      // Milliseconds instead of seconds; jitter pinned so delays are the schedule's own.
      retry: { baseDelayMs: 5 },
      random: () => 0.5,
      logger: silent,
      ...overrides,
    });
  }

  describe('streaming', () => {
    it('streams text deltas, then the whole text with usage and its cost in USD', async () => {
      const reply = '경기 1–2시간 전에 바나나 한 개와 물 한 컵이면 충분해요. 무거운 음식은 피하세요.';
      fake.setReply(reply);
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question, maxTokens: 300, temperature: 0.4 });
      const { deltas, error } = await collect(stream);
      expect(error).to.equal(undefined);
      expect(deltas.length).to.be.greaterThan(3);
      expect(deltas.join('')).to.equal(reply);

      const r = await result;
      expect(r).to.include({ text: reply, model: 'gpt-4o-mini', provider: 'openai', usageEstimated: false, attempts: 1, fallback: false });
      // The fake counts prompt tokens with the same tokenizer and one token per chunk.
      expect(r.usage).to.deep.equal({ promptTokens: countChatTokens(question), completionTokens: deltas.length });
      expect(r.costUsd).to.be.closeTo((r.usage.promptTokens * 0.15 + r.usage.completionTokens * 0.6) / 1e6, 1e-12);

      expect(fake.requests).to.have.length(1);
      const sent = fake.requests[0];
      expect(sent.path).to.equal('/v1/chat/completions');
      expect(sent.headers.authorization).to.equal(`Bearer ${fake.apiKey}`);
      expect(sent.body).to.deep.include({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, temperature: 0.4, messages: question });
      // A compatible server (not api.openai.com) gets the long-standing max_tokens.
      expect(sent.body.max_tokens).to.equal(300);
    });

    it('counts usage itself when the server sends no usage chunk, and says so', async () => {
      fake.omitStreamUsage = true;
      const { stream, result } = gateway().forModule('chat').streamChat({ messages: question });
      await collect(stream);
      const r = await result;
      expect(r.usageEstimated).to.equal(true);
      expect(r.usage).to.deep.equal({ promptTokens: countChatTokens(question), completionTokens: countTextTokens(r.text) });
      expect(r.costUsd).to.be.greaterThan(0);
    });

    it('answers non-streamed chat with usage and cost', async () => {
      fake.setUsage({ prompt_tokens: 1000, completion_tokens: 500 });
      const r = await gateway().forModule('rizz').chat({ messages: question, model: 'gpt-4o' });
      expect(r).to.include({ model: 'gpt-4o', provider: 'openai', finishReason: 'stop', usageEstimated: false });
      expect(r.text).to.match(/fake model/);
      expect(r.usage).to.deep.equal({ promptTokens: 1000, completionTokens: 500 });
      expect(r.costUsd).to.equal((1000 * 2.5 + 500 * 10) / 1e6);
      expect(fake.requests[0].body.stream).to.equal(false);
      // No cap configured and none asked for: none sent.
      expect(fake.requests[0].body.max_tokens).to.equal(undefined);
    });

    it('sends the configured default max_tokens when a call sets none', async () => {
      await gateway({ defaultMaxTokens: 64 }).forModule('chat').chat({ messages: question });
      expect(fake.requests[0].body.max_tokens).to.equal(64);
    });
  });

  describe('retries', () => {
    it('retries a 429 and a 500 with backoff, honouring retry-after, then succeeds', async () => {
      fake.on({ action: { kind: 'rate_limit', retryAfterSeconds: 1, retryAfterMs: 60 } });
      fake.on({ action: { kind: 'fail', status: 500 } });
      const started = performance.now();
      const { stream, result } = gateway({ retry: { baseDelayMs: 5, maxDelayMs: 1000 } }).forModule('coach').streamChat({ messages: question });
      const { deltas } = await collect(stream);
      const r = await result;
      expect(r.attempts).to.equal(3);
      expect(deltas.join('')).to.equal(r.text);
      expect(fake.requests).to.have.length(3);
      // The 429 asked for 60 ms, more than the 5 ms step: the provider's wish wins.
      expect(performance.now() - started).to.be.at.least(55);
    });

    it('never waits longer than its own schedule allows, whatever retry-after says', async () => {
      fake.on({ action: { kind: 'rate_limit', retryAfterSeconds: 30, retryAfterMs: 30_000 } });
      const started = performance.now();
      const r = await gateway().forModule('coach').chat({ messages: question });
      expect(r.attempts).to.equal(2);
      expect(performance.now() - started).to.be.below(5000);
    });

    it('gives up after 3 retries with a typed 503 that does not echo the provider', async () => {
      fake.on({ times: Infinity, action: { kind: 'fail', status: 503, error: { message: 'secret upstream detail' } } });
      const err = await rejection(gateway().forModule('coach').chat({ messages: question }));
      expect(err).to.include({ status: 503, code: 'llm_unavailable' });
      expect(err.message).to.not.match(/secret upstream detail/);
      expect(fake.requests).to.have.length(4);
    });

    it('does not retry a 400: the request itself is wrong', async () => {
      fake.on({ action: { kind: 'fail', status: 400, error: { message: "Invalid value for 'temperature'", code: 'invalid_value', param: 'temperature' } } });
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question });
      const { error } = await collect(stream);
      expect(error).to.include({ status: 422, code: 'llm_request_rejected' });
      expect((await rejection(result)).code).to.equal('llm_request_rejected');
      expect(fake.requests).to.have.length(1);
    });

    it('does not retry a wrong API key, and reports the service unavailable', async () => {
      const err = await rejection(gateway({}, { apiKey: 'sk-wrong-key-0000' }).forModule('chat').chat({ messages: question }));
      expect(err).to.include({ status: 503, code: 'llm_unavailable' });
      expect(fake.requests).to.have.length(1);
    });

    it('does not retry insufficient_quota, a 429 that waiting does not fix', async () => {
      fake.on({ action: { kind: 'fail', status: 429, error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } });
      const err = await rejection(gateway().forModule('chat').chat({ messages: question }));
      expect(err.code).to.equal('llm_unavailable');
      expect(fake.requests).to.have.length(1);
    });

    it('retries a response that stalls past the timeout', async () => {
      fake.on({ action: { kind: 'stall' } });
      const r = await gateway({}, { timeoutMs: 150 }).forModule('coach').chat({ messages: question });
      expect(r.attempts).to.equal(2);
      expect(fake.requests).to.have.length(2);
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).to.equal(true);
    });

    it('does not retry once the first token reached the caller: a cut stream fails as interrupted', async () => {
      fake.setReply('one two three four five');
      fake.on({ action: { kind: 'midstream', afterChunks: 2, then: 'cut' } });
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question });
      const { deltas, error } = await collect(stream);
      expect(deltas).to.deep.equal(['one ', 'two ']);
      expect(error).to.include({ status: 503, code: 'llm_interrupted' });
      const err = await rejection(result);
      expect(err.partial?.text).to.equal('one two ');
      expect(err.partial?.usage.completionTokens).to.equal(countTextTokens('one two '));
      expect(err.partial?.costUsd).to.be.greaterThan(0);
      expect(fake.requests).to.have.length(1);
    });

    it('fails a stream that goes silent after its first token as interrupted, not as a short answer', async () => {
      fake.setReply('one two three');
      fake.on({ action: { kind: 'midstream', afterChunks: 1, then: 'hang' } });
      const { stream, result } = gateway({}, { timeoutMs: 150 }).forModule('coach').streamChat({ messages: question });
      const { deltas, error } = await collect(stream);
      expect(deltas).to.deep.equal(['one ']);
      expect(error?.code).to.equal('llm_interrupted');
      expect((await rejection(result)).partial?.text).to.equal('one ');
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).to.equal(true);
      expect(fake.requests).to.have.length(1);
    });

    it('treats an error event inside a started stream the same way', async () => {
      fake.setReply('one two three');
      fake.on({ action: { kind: 'midstream', afterChunks: 1, then: 'error' } });
      const { stream } = gateway().forModule('coach').streamChat({ messages: question });
      const { deltas, error } = await collect(stream);
      expect(deltas).to.deep.equal(['one ']);
      expect(error?.code).to.equal('llm_interrupted');
      expect(fake.requests).to.have.length(1);
    });

    it('retries a stream that broke before its first token', async () => {
      fake.setReply('one two three');
      fake.on({ action: { kind: 'midstream', afterChunks: 0, then: 'cut' } });
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question });
      const { deltas } = await collect(stream);
      expect(deltas.join('')).to.equal('one two three');
      expect((await result).attempts).to.equal(2);
    });
  });

  describe('fallback model', () => {
    it('answers with the fallback model once the primary exhausts its retries', async () => {
      fake.on({ model: 'gpt-4o-mini', times: Infinity, action: { kind: 'fail', status: 500 } });
      const { stream, result } = gateway({ fallbackModel: 'gpt-4.1-nano', circuit: { failureThreshold: 10 } }).forModule('chat').streamChat({ messages: question });
      await collect(stream);
      const r = await result;
      expect(r).to.include({ model: 'gpt-4.1-nano', fallback: true, attempts: 5 });
      expect(fake.requests.map((q) => q.model)).to.deep.equal(['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini', 'gpt-4.1-nano']);
      expect(r.costUsd).to.be.closeTo((r.usage.promptTokens * 0.1 + r.usage.completionTokens * 0.4) / 1e6, 1e-12);
    });

    it('opens a circuit after consecutive failures: calls skip the primary until a probe after the cool-down succeeds', async () => {
      let now = 1_000_000;
      const llm = gateway({ fallbackModel: 'gpt-4.1-nano', circuit: { failureThreshold: 3, cooldownMs: 30_000 }, now: () => now }).forModule('chat');
      fake.on({ model: 'gpt-4o-mini', times: Infinity, action: { kind: 'fail', status: 502 } });

      // Three failures open the circuit: the call moves on to the fallback at once.
      expect((await llm.chat({ messages: question })).model).to.equal('gpt-4.1-nano');
      expect(fake.requests.map((q) => q.model)).to.deep.equal(['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o-mini', 'gpt-4.1-nano']);

      // While open, the primary is not even tried.
      const r2 = await llm.chat({ messages: question });
      expect(r2).to.include({ model: 'gpt-4.1-nano', fallback: true, attempts: 1 });
      expect(fake.requests).to.have.length(5);

      // After the cool-down one probe goes to the primary; it fails, the circuit re-opens.
      now += 30_001;
      expect((await llm.chat({ messages: question })).model).to.equal('gpt-4.1-nano');
      expect(fake.requests.slice(5).map((q) => q.model)).to.deep.equal(['gpt-4o-mini', 'gpt-4.1-nano']);

      // The primary recovers: the next probe succeeds and closes the circuit.
      fake.clear();
      now += 30_001;
      expect((await llm.chat({ messages: question })).model).to.equal('gpt-4o-mini');
      expect((await llm.chat({ messages: question })).model).to.equal('gpt-4o-mini');
    });

    it('fails fast while the circuit is open and there is no fallback', async () => {
      const llm = gateway({ circuit: { failureThreshold: 2, cooldownMs: 60_000 } }).forModule('chat');
      fake.on({ times: Infinity, action: { kind: 'fail', status: 500 } });
      expect((await rejection(llm.chat({ messages: question }))).code).to.equal('llm_unavailable');
      expect(fake.requests).to.have.length(2);
      expect((await rejection(llm.chat({ messages: question }))).code).to.equal('llm_unavailable');
      expect(fake.requests).to.have.length(2);
    });
  });

  describe('cancellation', () => {
    it('aborting the signal closes the upstream request mid-stream', async () => {
      fake.setReply('first second third');
      fake.on({ action: { kind: 'midstream', afterChunks: 1, then: 'hang' } });
      const controller = new AbortController();
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question, signal: controller.signal });
      const deltas: string[] = [];
      let error: LlmError | undefined;
      try {
        for await (const d of stream) {
          deltas.push(d);
          controller.abort();
        }
      } catch (err) {
        error = err as LlmError;
      }
      expect(deltas).to.deep.equal(['first ']);
      expect(error).to.include({ code: 'llm_cancelled' });
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).to.equal(true);
      const err = await rejection(result);
      expect(err.partial?.text).to.equal('first ');
      expect(fake.requests).to.have.length(1);
    });

    it('a consumer that stops reading cancels the call and closes the upstream request', async () => {
      fake.setReply('first second third');
      fake.on({ action: { kind: 'midstream', afterChunks: 1, then: 'hang' } });
      const { stream, result } = gateway().forModule('coach').streamChat({ messages: question });
      for await (const d of stream) {
        expect(d).to.equal('first ');
        break;
      }
      expect((await rejection(result)).code).to.equal('llm_cancelled');
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).to.equal(true);
    });

    it('an abort during the backoff stops the retries', async () => {
      fake.on({ action: { kind: 'fail', status: 500 } });
      const controller = new AbortController();
      const call = gateway({ retry: { baseDelayMs: 60_000 } }).forModule('coach').chat({ messages: question, signal: controller.signal });
      await fake.waitForRequests(1);
      controller.abort();
      expect((await rejection(call)).code).to.equal('llm_cancelled');
      expect(fake.requests).to.have.length(1);
    });
  });

  describe('prompt limit', () => {
    it('refuses a prompt over the limit, counted in tokens, before sending anything', async () => {
      const messages: ChatMessage[] = [{ role: 'user', content: '달리기 전 준비운동은 어떻게 하나요? '.repeat(40) }];
      const tokens = countChatTokens(messages);
      const llm = gateway({ maxPromptTokens: 100 }).forModule('coach');
      const { stream, result } = llm.streamChat({ messages });
      const { error } = await collect(stream);
      expect(error).to.include({ status: 400, code: 'prompt_too_long' });
      expect(error?.issues[0].field).to.equal('messages');
      expect(error?.extra).to.deep.equal({ limit: 100, tokens });
      expect(error?.message).to.match(new RegExp(`${tokens} tokens; the limit is 100`));
      expect((await rejection(result)).code).to.equal('prompt_too_long');
      expect((await rejection(llm.chat({ messages }))).code).to.equal('prompt_too_long');
      // A per-call budget overrides the gateway's.
      expect((await rejection(llm.chat({ messages: question, maxPromptTokens: 5 }))).code).to.equal('prompt_too_long');
      expect(fake.requests).to.have.length(0);
    });

    it('counts tokens, not characters: a long run of one letter is a short prompt', async () => {
      const messages: ChatMessage[] = [{ role: 'user', content: 'a'.repeat(400) }];
      expect(countChatTokens(messages)).to.be.below(100);
      await gateway({ maxPromptTokens: 100 }).forModule('coach').chat({ messages });
      expect(fake.requests).to.have.length(1);
    });

    it('names a bad field of a call', async () => {
      const err = await rejection(gateway().forModule('coach').chat({ messages: question, temperature: 3 }));
      expect(err).to.include({ status: 400, code: 'validation_failed' });
      expect(err.issues[0].field).to.equal('temperature');
      expect(fake.requests).to.have.length(0);
    });
  });

  describe('embeddings, speech and images', () => {
    it('embeds in batches and keeps the input order', async () => {
      fake.reverseEmbeddings = true;
      const texts = Array.from({ length: 250 }, (_, i) => `문서 조각 ${i}: 산책 코스 ${i % 7}`);
      const r = await gateway({ embedBatchSize: 100 }).forModule('coach').embed(texts, { dimensions: 16 });
      expect(fake.requests.map((q) => q.body.input.length)).to.deep.equal([100, 100, 50]);
      expect(fake.requests.every((q) => q.path === '/v1/embeddings' && q.body.model === 'text-embedding-3-small' && q.body.dimensions === 16)).to.equal(true);
      expect(r.vectors).to.have.length(250);
      r.vectors.forEach((v, i) => expect(v).to.deep.equal(fake.embeddingOf(texts[i], 16)));
      const tokens = texts.reduce((n, t) => n + countTextTokens(t), 0);
      expect(r.usage.promptTokens).to.equal(tokens);
      expect(r.costUsd).to.be.closeTo((tokens * 0.02) / 1e6, 1e-12);
      expect(r).to.include({ model: 'text-embedding-3-small', provider: 'openai' });
    });

    it('retries a failed embedding batch without redoing the others', async () => {
      fake.on({ path: '/v1/embeddings', action: { kind: 'fail', status: 500 } });
      const texts = Array.from({ length: 3 }, (_, i) => `text ${i}`);
      const r = await gateway({ embedBatchSize: 2 }).forModule('coach').embed(texts);
      expect(fake.requests.map((q) => q.body.input.length)).to.deep.equal([2, 2, 1]);
      expect(r.vectors[2]).to.deep.equal(fake.embeddingOf('text 2'));
    });

    it('refuses an empty text, naming it', async () => {
      const err = await rejection(gateway().forModule('coach').embed(['ok', ' ']));
      expect(err.issues[0].field).to.equal('texts[1]');
      expect(fake.requests).to.have.length(0);
    });

    it('synthesises speech as audio bytes, priced per character', async () => {
      const input = '오늘도 잘 달렸어요!';
      const r = await gateway().forModule('coach').speech({ input, voice: 'nova', format: 'opus' });
      expect(r.audio.subarray(0, 4).toString()).to.equal('OggS');
      expect(r).to.include({ contentType: 'audio/ogg', format: 'opus', model: 'tts-1', provider: 'openai' });
      expect(r.costUsd).to.be.closeTo((input.length * 15) / 1e6, 1e-12);
      expect(fake.requests[0].body).to.deep.equal({ model: 'tts-1', voice: 'nova', input, response_format: 'opus' });
    });

    it('generates images as base64 (token-priced) or URLs (priced per image)', async () => {
      const llm = gateway().forModule('rizz');
      const b64 = await llm.generateImage({ prompt: 'a corgi on a beach at sunset', size: '1024x1024' });
      expect(b64.images).to.have.length(1);
      expect((await sharp(Buffer.from(b64.images[0].b64!, 'base64')).metadata()).format).to.equal('png');
      expect(b64.costUsd).to.be.closeTo((50 * 5 + 4160 * 40) / 1e6, 1e-12);

      const urls = await llm.generateImage({ prompt: 'a corgi', model: 'dall-e-3', n: 2 });
      expect(urls.images.map((i) => i.url)).to.have.length(2).and.to.satisfy((u: string[]) => u.every((x) => x.startsWith('https://')));
      expect(urls.costUsd).to.equal(0.08);
      expect(fake.requests[1].body).to.deep.include({ model: 'dall-e-3', prompt: 'a corgi', n: 2, size: '1024x1024' });
    });
  });

  describe('bulkheads', () => {
    it('a saturated module queues, then refuses; other modules are not held up', async () => {
      const llm = gateway({ bulkheads: { rizz: { concurrency: 1, queue: 1 }, coach: { concurrency: 2, queue: 2 } } });
      const rizz = llm.forModule('rizz');
      fake.on({ model: 'slow-model', action: { kind: 'stall' } });

      const first = rizz.chat({ messages: question, model: 'slow-model' });
      await fake.waitForRequests(1);
      const second = rizz.chat({ messages: question, model: 'slow-model' });
      const third = await rejection(rizz.chat({ messages: question }));
      expect(third).to.include({ status: 503, code: 'llm_busy' });
      expect(llm.stats().bulkheads.rizz).to.include({ active: 1, queued: 1 });

      // coach runs while rizz is full.
      const coach = await llm.forModule('coach').chat({ messages: question });
      expect(coach.provider).to.equal('openai');
      expect(fake.requests.map((q) => q.model)).to.deep.equal(['slow-model', 'gpt-4o-mini']);

      fake.release();
      await Promise.all([first, second]);
      expect(fake.requests).to.have.length(3);
      expect(llm.stats().bulkheads.rizz).to.include({ active: 0, queued: 0 });
    });

    it('a call that waits in the queue too long is refused as busy', async () => {
      const llm = gateway({ bulkheads: { rizz: { concurrency: 1, queue: 5 } }, queueTimeoutMs: 30 });
      fake.on({ action: { kind: 'stall' } });
      const first = llm.forModule('rizz').chat({ messages: question });
      await fake.waitForRequests(1);
      expect((await rejection(llm.forModule('rizz').chat({ messages: question }))).code).to.equal('llm_busy');
      fake.release();
      await first;
    });
  });
});
