// Image (vision) input to chat calls: the wire format the real openai client sends, the offline
// driver's text-only reading, the token estimate and the limits refused before anything is sent.
import { expect } from 'chai';
import sharp from 'sharp';
import { createOfflineProvider } from '../../integrations/llm/offline.ts';
import { createOpenAiProvider } from '../../integrations/llm/openai.ts';
import { textOf, type ChatMessage, type LlmProvider } from '../../integrations/llm/index.ts';
import { createLogger } from '../../server/logger.ts';
import type { LlmError } from '../../services/llm/errors.ts';
import { createLlmGateway } from '../../services/llm/gateway.ts';
import { DEFAULT_PRICES } from '../../services/llm/pricing.ts';
import { countChatTokens, countTextTokens, IMAGE_TOKENS_HIGH, IMAGE_TOKENS_LOW } from '../../services/llm/tokens.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';

const silent = createLogger({ level: 'silent', pretty: false, nodeId: 'test' });

function gatewayOver(provider: LlmProvider) {
  return createLlmGateway({
    provider,
    defaultModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    speechModel: 'tts-1',
    imageModel: 'gpt-image-1',
    priceTable: DEFAULT_PRICES,
    bulkheads: {},
    retry: { baseDelayMs: 5 },
    logger: silent,
  }).forModule('rizz');
}

async function rejection(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (err) {
    return err as LlmError;
  }
  return expect.fail('expected the call to fail');
}

function image(data: Uint8Array, detail?: 'low' | 'high' | 'auto') {
  return { type: 'image' as const, data, mimeType: 'image/png' as const, ...(detail ? { detail } : {}) };
}

describe('llm: vision input', () => {
  let png: Buffer;
  let jpeg: Buffer;
  before(async () => {
    png = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer();
    jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 40, g: 40, b: 200 } } }).jpeg().toBuffer();
  });

  describe('over the openai client', () => {
    let fake: FakeOpenAi;
    beforeEach(async () => {
      fake = await startFakeOpenAi();
    });
    afterEach(() => fake.close());

    const openai = () => gatewayOver(createOpenAiProvider({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, timeoutMs: 5000 }));

    it('sends parts as OpenAI content arrays with data URLs, and strings unchanged', async () => {
      fake.setReply('Both photos look great.');
      const messages: ChatMessage[] = [
        { role: 'system', content: 'You review profile photos.' },
        { role: 'user', content: [{ type: 'text', text: 'The original, then the result:' }, image(png, 'low'), { type: 'image', data: jpeg, mimeType: 'image/jpeg' }] },
      ];
      const r = await openai().chat({ messages });
      expect(r.text).to.equal('Both photos look great.');

      expect(fake.requests).to.have.length(1);
      const sent = fake.requests[0].body.messages;
      expect(sent[0]).to.deep.equal({ role: 'system', content: 'You review profile photos.' });
      expect(sent[1]).to.deep.equal({
        role: 'user',
        content: [
          { type: 'text', text: 'The original, then the result:' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}`, detail: 'low' } },
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${jpeg.toString('base64')}` } },
        ],
      });
    });

    it('streams with images too', async () => {
      const { stream, result } = openai().streamChat({ messages: [{ role: 'user', content: [image(png, 'high'), { type: 'text', text: 'Rate it.' }] }] });
      for await (const _ of stream) void _;
      await result;
      expect(fake.requests[0].body.messages[0].content[0].image_url.url).to.match(/^data:image\/png;base64,/);
      expect(fake.requests[0].body.stream).to.equal(true);
    });

    it('refuses more than 8 images, or more than 20 MB of them, before any call', async () => {
      const nine = Array.from({ length: 9 }, () => image(png, 'low'));
      const tooMany = await rejection(openai().chat({ messages: [{ role: 'user', content: nine }] }));
      expect(tooMany).to.include({ status: 400, code: 'input_too_long' });
      expect(tooMany.issues[0].field).to.equal('messages');

      const big = new Uint8Array(7 * 1024 * 1024);
      const tooBig = await rejection(openai().chat({ messages: [{ role: 'user', content: [image(big), image(big), image(big)] }] }));
      expect(tooBig).to.include({ status: 400, code: 'input_too_long' });
      expect(tooBig.issues[0].field).to.equal('messages');
      expect(fake.requests).to.have.length(0);
    });

    it('refuses images outside user messages and malformed parts, naming the field', async () => {
      const inSystem = await rejection(openai().chat({ messages: [{ role: 'system', content: [image(png)] }, { role: 'user', content: 'hi' }] }));
      expect(inSystem.status).to.equal(400);
      expect(inSystem.issues[0].field).to.equal('messages[0].content[0]');

      const inAssistant = await rejection(openai().chat({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [image(png)] }] }));
      expect(inAssistant.issues[0].field).to.equal('messages[1].content[0]');

      const badType = await rejection(openai().chat({ messages: [{ role: 'user', content: [{ type: 'image', data: png, mimeType: 'image/gif' as 'image/png' }] }] }));
      expect(badType.issues[0].field).to.equal('messages[0].content[0].mimeType');

      const empty = await rejection(openai().chat({ messages: [{ role: 'user', content: [] }] }));
      expect(empty.issues[0].field).to.equal('messages[0].content');
      expect(fake.requests).to.have.length(0);
    });
  });

  it('the offline driver answers from the text and ignores the images', async () => {
    const llm = gatewayOver(createOfflineProvider());
    const r = await llm.chat({
      messages: [
        { role: 'system', content: 'Warm lighting flatters skin tones. A plain background keeps the focus on the face.' },
        { role: 'user', content: [{ type: 'text', text: 'Which background keeps the focus on the face?' }, image(png, 'low'), image(jpeg)] },
      ],
    });
    expect(r.provider).to.equal('offline');
    expect(r.text).to.match(/^\[offline\] /).and.include('plain background');
  });

  it('counts text parts with the tokenizer and each image as a fixed estimate', () => {
    const text = 'Rate these three photos.';
    const withImages: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text }, image(png, 'low'), image(png, 'high'), image(png)] }];
    const plain: ChatMessage[] = [{ role: 'user', content: text }];
    expect(countChatTokens(plain)).to.equal(3 + 4 + countTextTokens(text));
    expect(countChatTokens(withImages)).to.equal(countChatTokens(plain) + IMAGE_TOKENS_LOW + 2 * IMAGE_TOKENS_HIGH);
    expect(textOf(withImages[0].content)).to.equal(text);
    expect(textOf([{ type: 'text', text: 'a' }, image(png), { type: 'text', text: 'b' }])).to.equal('a\n\nb');
  });
});
