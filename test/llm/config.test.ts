// LLM configuration and wiring: offline by default, refused in production, the real client when
// a key is set — all through a real node.
import { expect } from 'chai';
import { loadConfig } from '../../server/config.ts';
import { completeProductionEnv, configRefusal as refusal } from '../config.ts';
import { request, startNode, stopAllNodes } from '../helpers.ts';
import { startFakeOpenAi, type FakeOpenAi } from '../fakes/openai.ts';

const { OPENAI_API_KEY: _key, ...productionBase } = completeProductionEnv();

describe('llm: configuration and wiring', () => {
  let fake: FakeOpenAi;
  before(async () => {
    fake = await startFakeOpenAi();
  });
  after(async () => {
    await stopAllNodes();
    await fake.close();
  });

  it('runs offline without an API key, and refuses that in production', () => {
    expect(loadConfig({}).llmOffline).to.equal(true);
    expect(loadConfig({ OPENAI_API_KEY: 'sk-x' }).llmOffline).to.equal(false);
    expect(loadConfig({ OPENAI_API_KEY: 'sk-x', LLM_OFFLINE: 'true' }).llmOffline).to.equal(true);
    expect(refusal(productionBase)).to.match(/OPENAI_API_KEY: .*offline LLM driver is refused in production/);
    expect(refusal({ ...productionBase, OPENAI_API_KEY: 'sk-x', LLM_OFFLINE: 'true' })).to.match(/offline LLM driver/);
  });

  it('names a bad price table or bulkhead setting', () => {
    const message = refusal({ LLM_PRICES_JSON: '{"gpt-4o-mini": {"input": -1}}', LLM_BULKHEADS_JSON: 'coach=20' });
    expect(message).to.match(/LLM_PRICES_JSON\.gpt-4o-mini\.input/);
    expect(message).to.match(/LLM_BULKHEADS_JSON: not valid JSON/);
  });

  it('gives a default node the offline gateway', async () => {
    const node = await startNode();
    expect(node.ctx.llm).to.include({ offline: true, provider: 'offline' });
    const r = await node.ctx.llm.forModule('coach').chat({ messages: [{ role: 'system', content: '물은 충분히 마시세요.' }, { role: 'user', content: '물을 얼마나 마셔야 하나요?' }] });
    expect(r.provider).to.equal('offline');
    expect(r.text).to.match(/^\[offline\]/);
  });

  it('uses the real client with OPENAI_API_KEY and OPENAI_BASE_URL, with prices and bulkheads from the environment', async () => {
    const node = await startNode({
      OPENAI_API_KEY: fake.apiKey,
      OPENAI_BASE_URL: fake.baseUrl,
      LLM_DEFAULT_MODEL: 'local-llama',
      LLM_PRICES_JSON: '{"local-llama": {"input": 1, "output": 2}}',
      LLM_BULKHEADS_JSON: '{"coach": 1}',
    });
    expect(node.ctx.llm).to.include({ offline: false, provider: 'openai' });
    fake.setUsage({ prompt_tokens: 1_000_000, completion_tokens: 500_000 });
    const r = await node.ctx.llm.forModule('coach').chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(r).to.include({ provider: 'openai', model: 'local-llama', costUsd: 2 });
    expect(fake.requests.at(-1)?.body.model).to.equal('local-llama');
    expect(node.ctx.llm.stats().bulkheads.coach).to.include({ concurrency: 1, queue: 2 });

    const metrics = await request(node, 'GET', '/metrics');
    expect(metrics.body).to.match(/llm_calls_total\{[^}]*module="coach"[^}]*outcome="ok"/);
    expect(metrics.body).to.match(/llm_cost_usd_total\{[^}]*model="local-llama"[^}]*\} 2/);
  });
});
