// A fake of OpenAI's REST API over real HTTP, speaking its wire format so tests run the real
// `openai` SDK client against it:
//   POST /v1/chat/completions   JSON, or SSE (`data: {chunk}` lines, a usage chunk when
//                               stream_options.include_usage, then `data: [DONE]`)
//   POST /v1/embeddings         { object: 'list', data: [{ object: 'embedding', index, embedding }], usage }
//                               (float arrays, or base64 float32 when encoding_format = base64)
//   POST /v1/audio/speech       audio bytes with the format's content type
//   POST /v1/images/generations { created, data: [{ b64_json } | { url }], usage? }
// It checks `Authorization: Bearer <key>`, records every request (and whether the client closed
// the connection before the response ended), and can be scripted to fail with OpenAI's error
// JSON, rate-limit with retry-after, stall before answering, or break a stream after N chunks —
// for the next N calls, per path, or per model.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer';

export type OpenAiErrorBody = { message: string; type: string; code: string | null; param?: string | null };

export type FakeAction =
  // An HTTP error with OpenAI's `{ error: { message, type, param, code } }` body.
  | { kind: 'fail'; status: number; error?: Partial<OpenAiErrorBody>; headers?: Record<string, string> }
  // 429 with `retry-after` (seconds) and `retry-after-ms`, as OpenAI sends.
  | { kind: 'rate_limit'; retryAfterSeconds?: number; retryAfterMs?: number }
  // Accept the request and never answer (until release() or the client gives up).
  | { kind: 'stall' }
  // Stream `afterChunks` content chunks, then: 'cut' the connection, 'hang' until the client
  // leaves (or release()), or send an `error` event in the stream as OpenAI does mid-stream.
  | { kind: 'midstream'; afterChunks: number; then: 'cut' | 'hang' | 'error' };

export type FakeRule = { path?: string; model?: string; times?: number; action: FakeAction };

export type RecordedRequest = {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  model?: string;
  // The client closed the connection before the response was complete.
  closedEarly: boolean;
  closed: Promise<void>;
};

export type FakeOpenAi = {
  baseUrl: string;
  apiKey: string;
  requests: RecordedRequest[];
  // Scripted behaviour, consumed in order; `times` defaults to 1 (Infinity: until clear()).
  on: (rule: FakeRule) => void;
  clear: () => void;
  // The reply every chat completion gives (split into word chunks when streamed).
  setReply: (text: string) => void;
  // Usage the fake reports; default: prompt tokens counted with gpt-tokenizer, one token per chunk.
  setUsage: (usage: { prompt_tokens: number; completion_tokens: number } | undefined) => void;
  // Answer stalled requests and hung streams normally from where they stopped.
  release: () => void;
  // Resolves once `count` requests have arrived at `path` (default: any path).
  waitForRequests: (count: number, path?: string) => Promise<void>;
  // The vector the fake returns for a text, so tests can check order end to end.
  embeddingOf: (text: string, dimensions?: number) => number[];
  // Return embedding items in reverse order (the client must place them by `index`).
  reverseEmbeddings: boolean;
  omitStreamUsage: boolean;
  close: () => Promise<void>;
};

// A 1×1 PNG: what an image endpoint returns when asked for base64 bytes.
export const FAKE_PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/eL9GtQAAAABJRU5ErkJggg==';

const SPEECH_BYTES: Record<string, { type: string; bytes: Buffer }> = {
  mp3: { type: 'audio/mpeg', bytes: Buffer.concat([Buffer.from('ID3'), Buffer.from([4, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0xfb, 0x90, 0x64])]) },
  opus: { type: 'audio/ogg', bytes: Buffer.from('OggS\0fake-opus') },
  aac: { type: 'audio/aac', bytes: Buffer.from([0xff, 0xf1, 0x50, 0x80, 0x01, 0x7f, 0xfc]) },
  flac: { type: 'audio/flac', bytes: Buffer.from('fLaC\0fake') },
  wav: { type: 'audio/wav', bytes: Buffer.from('RIFF\x24\0\0\0WAVEfmt ') },
  pcm: { type: 'audio/pcm', bytes: Buffer.alloc(48) },
};

export async function startFakeOpenAi(opts: { apiKey?: string } = {}): Promise<FakeOpenAi> {
  const apiKey = opts.apiKey ?? `sk-test-${crypto.randomBytes(12).toString('hex')}`;
  let rules: (FakeRule & { remaining: number })[] = [];
  let reply = 'Hello from the fake model. It answers in a few short chunks.';
  let usageOverride: { prompt_tokens: number; completion_tokens: number } | undefined;
  let releaseWaiters: (() => void)[] = [];
  const requestWaiters: { count: number; path?: string; resolve: () => void }[] = [];
  const requests: RecordedRequest[] = [];

  const fake: FakeOpenAi = {
    baseUrl: '',
    apiKey,
    requests,
    on: (rule) => void rules.push({ ...rule, remaining: rule.times ?? 1 }),
    clear: () => void (rules = []),
    setReply: (text) => void (reply = text),
    setUsage: (u) => void (usageOverride = u),
    release: () => {
      const waiters = releaseWaiters;
      releaseWaiters = [];
      for (const w of waiters) w();
    },
    waitForRequests: (count, path) =>
      new Promise<void>((resolve) => {
        const waiter = { count, path, resolve };
        requestWaiters.push(waiter);
        checkWaiters();
      }),
    embeddingOf: fakeEmbedding,
    reverseEmbeddings: false,
    omitStreamUsage: false,
    close: () =>
      new Promise<void>((resolve) => {
        fake.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  function checkWaiters(): void {
    for (const w of [...requestWaiters]) {
      const seen = requests.filter((r) => !w.path || r.path === w.path).length;
      if (seen >= w.count) {
        requestWaiters.splice(requestWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  function takeRule(path: string, model: string | undefined): FakeAction | undefined {
    const rule = rules.find((r) => r.remaining > 0 && (!r.path || r.path === path) && (!r.model || r.model === model));
    if (!rule) return undefined;
    rule.remaining--;
    return rule.action;
  }

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    let markClosed!: () => void;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      model: typeof body?.model === 'string' ? body.model : undefined,
      closedEarly: false,
      closed: new Promise<void>((r) => (markClosed = r)),
    };
    res.on('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
      markClosed();
    });
    requests.push(record);
    checkWaiters();

    const requestId = `req_${crypto.randomBytes(12).toString('hex')}`;
    res.setHeader('x-request-id', requestId);
    res.setHeader('openai-version', '2020-10-01');
    res.setHeader('openai-processing-ms', '7');

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      sendError(res, 401, {
        message: presented ? `Incorrect API key provided: ${presented.slice(0, 3)}*****${presented.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.` : "You didn't provide an API key.",
        type: 'invalid_request_error',
        code: presented ? 'invalid_api_key' : null,
      });
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, { message: `Invalid method for URL (${req.method} ${path})`, type: 'invalid_request_error', code: null });
      return;
    }
    if (body === undefined) {
      sendError(res, 400, { message: "We could not parse the JSON body of your request.", type: 'invalid_request_error', code: null });
      return;
    }

    const action = takeRule(path, record.model);
    if (action?.kind === 'fail') {
      const status = action.status;
      const error: OpenAiErrorBody = {
        message: action.error?.message ?? (status >= 500 ? 'The server had an error while processing your request. Sorry about that!' : 'Invalid request.'),
        type: action.error?.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
        param: action.error?.param ?? null,
        code: action.error?.code ?? null,
      };
      sendError(res, status, error, action.headers);
      return;
    }
    if (action?.kind === 'rate_limit') {
      const seconds = action.retryAfterSeconds ?? 1;
      sendError(
        res,
        429,
        { message: `Rate limit reached for ${record.model ?? 'default'} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${seconds}s.`, type: 'requests', code: 'rate_limit_exceeded' },
        { 'retry-after': String(seconds), 'retry-after-ms': String(action.retryAfterMs ?? seconds * 1000), 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0' },
      );
      return;
    }
    if (action?.kind === 'stall') {
      await new Promise<void>((resolve) => {
        releaseWaiters.push(resolve);
        res.on('close', resolve);
      });
      if (res.destroyed) return;
    }

    switch (path) {
      case '/v1/chat/completions':
        return chatCompletions(res, body, action?.kind === 'midstream' ? action : undefined);
      case '/v1/embeddings':
        return embeddings(res, body);
      case '/v1/audio/speech':
        return speech(res, body);
      case '/v1/images/generations':
        return images(res, body);
      default:
        sendError(res, 404, { message: `Invalid URL (POST ${path})`, type: 'invalid_request_error', code: null });
    }
  });

  function sendError(res: http.ServerResponse, status: number, error: OpenAiErrorBody, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify({ error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code } }));
  }

  function json(res: http.ServerResponse, payload: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  }

  function chatCompletions(res: http.ServerResponse, body: any, midstream?: Extract<FakeAction, { kind: 'midstream' }>): void {
    if (typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendError(res, 400, { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' });
      return;
    }
    const id = `chatcmpl-${crypto.randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const pieces = reply.match(/\S+\s*/g) ?? [reply];
    const promptTokens = body.messages.reduce((n: number, m: any) => n + 4 + countTokens(String(m.content ?? ''), { disallowedSpecial: new Set() }), 3);
    const usage = usageOverride ?? { prompt_tokens: promptTokens, completion_tokens: pieces.length };
    const usageBody = {
      ...usage,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const base = { id, created, model: body.model, system_fingerprint: 'fp_fake0001', service_tier: 'default' };

    if (!body.stream) {
      json(res, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: reply, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
        usage: usageBody,
      });
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const withUsage = body.stream_options?.include_usage === true && !fake.omitStreamUsage;
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...(withUsage ? { usage: null } : {}), ...extra })}\n\n`);
    const contentChunk = (text: string) => send([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]);

    (async () => {
      send([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
      for (const [i, piece] of pieces.entries()) {
        if (midstream && i === midstream.afterChunks) {
          if (midstream.then === 'cut') {
            res.socket?.destroy();
            return;
          }
          if (midstream.then === 'error') {
            res.write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } })}\n\n`);
            res.end();
            return;
          }
          await new Promise<void>((resolve) => {
            releaseWaiters.push(resolve);
            res.on('close', resolve);
          });
          if (res.destroyed) return;
        }
        contentChunk(piece);
        // Let each chunk leave as its own write, as a model's tokens do.
        await new Promise((r) => setImmediate(r));
        if (res.destroyed) return;
      }
      send([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
      if (withUsage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage: usageBody })}\n\n`);
      res.write('data: [DONE]\n\n');
      res.end();
    })();
  }

  function embeddings(res: http.ServerResponse, body: any): void {
    const input: unknown = body.input;
    const texts = typeof input === 'string' ? [input] : Array.isArray(input) ? input : undefined;
    if (typeof body.model !== 'string' || !texts || texts.length === 0 || texts.some((t) => typeof t !== 'string' || t === '')) {
      sendError(res, 400, { message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", type: 'invalid_request_error', param: null, code: null });
      return;
    }
    if (texts.length > 2048) {
      sendError(res, 400, { message: `Too many inputs. The max number of inputs is 2048. We received ${texts.length}.`, type: 'invalid_request_error', param: null, code: null });
      return;
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : 32;
    const base64 = body.encoding_format === 'base64';
    const data = (texts as string[]).map((t, index) => {
      const vector = fakeEmbedding(t, dims);
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
    });
    if (fake.reverseEmbeddings) data.reverse();
    const promptTokens = (texts as string[]).reduce((n, t) => n + countTokens(t, { disallowedSpecial: new Set() }), 0);
    json(res, { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
  }

  function speech(res: http.ServerResponse, body: any): void {
    if (typeof body.input !== 'string' || body.input === '' || typeof body.voice !== 'string' || typeof body.model !== 'string') {
      sendError(res, 400, { message: "Missing required parameter: 'input'.", type: 'invalid_request_error', param: 'input', code: 'missing_required_parameter' });
      return;
    }
    const format = SPEECH_BYTES[body.response_format ?? 'mp3'];
    if (!format) {
      sendError(res, 400, { message: `Invalid value: '${body.response_format}'.`, type: 'invalid_request_error', param: 'response_format', code: 'invalid_value' });
      return;
    }
    res.writeHead(200, { 'content-type': format.type, 'transfer-encoding': 'chunked' });
    res.end(format.bytes);
  }

  function images(res: http.ServerResponse, body: any): void {
    if (typeof body.prompt !== 'string' || body.prompt === '') {
      sendError(res, 400, { message: "Missing required parameter: 'prompt'.", type: 'invalid_request_error', param: 'prompt', code: 'missing_required_parameter' });
      return;
    }
    const model = body.model ?? 'dall-e-2';
    const n = body.n ?? 1;
    // gpt-image-* always answers with base64 and token usage; dall-e-* with URLs unless asked otherwise.
    const tokenPriced = String(model).startsWith('gpt-image');
    const asUrl = !tokenPriced && body.response_format !== 'b64_json';
    const data = Array.from({ length: n }, (_, i) =>
      asUrl ? { url: `https://oaidalleapiprodscus.blob.core.windows.net/private/fake/img-${i}.png?sig=fake`, revised_prompt: body.prompt } : { b64_json: FAKE_PNG_B64 },
    );
    json(res, {
      created: Math.floor(Date.now() / 1000),
      data,
      ...(tokenPriced
        ? { usage: { input_tokens: 50, input_tokens_details: { text_tokens: 50, image_tokens: 0 }, output_tokens: 4160 * n, total_tokens: 50 + 4160 * n } }
        : {}),
    });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  fake.baseUrl = `http://127.0.0.1:${port}/v1`;
  return fake;
}

// Deterministic per text: [length, then hash bytes scaled to (-1, 1)].
// Deterministic and unrelated for different texts (a hash stream), as real embeddings of unrelated
// texts are: two different questions never look alike to a semantic cache.
function fakeEmbedding(text: string, dimensions = 32): number[] {
  const bytes: number[] = [];
  for (let block = 0; bytes.length < dimensions; block++) bytes.push(...crypto.createHash('sha256').update(`${block}:${text}`).digest());
  return bytes.slice(0, dimensions).map((b) => (b - 127.5) / 128);
}
