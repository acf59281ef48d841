// An LLM upstream for the relay benches (bench/coach.ts, bench/chat.ts): the API node's
// OPENAI_BASE_URL points at it. It answers chat completions itself, in OpenAI's streaming wire
// format, pacing the chunks and recording when each was written (test/fakes/openai.ts streams
// without pauses or write times); every other request (embeddings) it forwards to the fake.
//
// Each prompt carries a marker (`bq17x`) that ties its chat request to what the bench sent. The
// newest marker in the request counts: a chat's memory repeats the markers of earlier messages
// before the new one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FakeOpenAi } from '../test/fakes/openai.ts';

// `together`: hold every stream after its role chunk until that many are open (or the gate's
// timeout passed), so that they then stream at the same time rather than as their requests trickle in.
export type Script = { chunks: number; intervalMs: number; together?: number };

export type Upstream = {
  url: string;
  script: Script;
  // When each marker's chat request arrived, and when each of its content chunks was written.
  arrivals: Map<string, number>;
  writes: Map<string, number[]>;
  // Round trips of the requests forwarded to the fake, in ms.
  proxied: number[];
  peakStreams: number;
  // When held streams were let go, and whether it was because all had opened.
  gate?: { releasedAt: number; open: number; timedOut: boolean };
  onRelease?: () => void;
  close: () => Promise<void>;
};

// Chunk i of every streamed answer is `t<i> `; the offset of its delta names the chunk.
export function chunkText(i: number): string {
  return `t${i} `;
}

// Delta offset → chunk index, for answers of `chunks` chunks.
export function chunkOffsets(chunks: number): Map<number, number> {
  const offsets = new Map<number, number>();
  let offset = 0;
  for (let i = 0; i < chunks; i++) {
    offsets.set(offset, i);
    offset += chunkText(i).length;
  }
  return offsets;
}

// OpenAI's chat completions in its streaming wire format (a role chunk, content chunks, a finish
// chunk, a usage chunk, `data: [DONE]`), paced by `script`; everything else goes to `target`.
export async function startUpstream(target: FakeOpenAi, opts: { gateTimeoutMs: number }): Promise<Upstream> {
  let open = 0;
  const up: Upstream = {
    url: '',
    script: { chunks: 3, intervalMs: 0 },
    arrivals: new Map(),
    writes: new Map(),
    proxied: [],
    peakStreams: 0,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(gateTimer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer(async (req, res) => {
    const arrivedAt = performance.now();
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const raw = Buffer.concat(parts).toString('utf8');
    if (req.url !== '/v1/chat/completions') return forward(req, res, raw);

    const body = JSON.parse(raw) as { model: string; stream?: boolean };
    const marker = [...raw.matchAll(/\bbq\d+x\b/g)].at(-1)?.[0] ?? 'unmarked';
    up.arrivals.set(marker, arrivedAt);
    const writes: number[] = [];
    up.writes.set(marker, writes);
    const { chunks, intervalMs } = up.script;
    const base = { id: `chatcmpl-bench-${marker}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model, system_fingerprint: 'fp_bench' };
    const send = (choices: unknown[], usage: unknown = null) => res.write(`data: ${JSON.stringify({ ...base, choices, usage })}\n\n`);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    up.peakStreams = Math.max(up.peakStreams, ++open);
    try {
      send([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
      if (up.script.together) {
        await gate(up.script.together);
        // Out of step, as real streams are: released together, every stream would tick at once.
        await new Promise((r) => setTimeout(r, Math.random() * intervalMs));
      }
      for (let i = 0; i < chunks; i++) {
        if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
        if (res.destroyed) return;
        writes.push(performance.now());
        send([{ index: 0, delta: { content: chunkText(i) }, logprobs: null, finish_reason: null }]);
      }
      send([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
      send([], { prompt_tokens: 400, completion_tokens: chunks, total_tokens: 400 + chunks });
      res.end('data: [DONE]\n\n');
    } finally {
      open--;
    }
  });

  let held: (() => void)[] = [];
  let gateTimer: NodeJS.Timeout | undefined;
  function gate(count: number): Promise<void> {
    const release = (timedOut: boolean) => {
      clearTimeout(gateTimer);
      gateTimer = undefined;
      up.gate = { releasedAt: performance.now(), open, timedOut };
      up.onRelease?.();
      const waiting = held;
      held = [];
      for (const go of waiting) go();
    };
    return new Promise((resolve) => {
      held.push(resolve);
      if (open >= count) release(false);
      else gateTimer ??= setTimeout(() => release(true), opts.gateTimeoutMs);
    });
  }

  async function forward(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const started = performance.now();
    const answer = await fetch(`${target.baseUrl}${req.url!.replace(/^\/v1/, '')}`, {
      method: req.method,
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body: req.method === 'POST' ? raw : undefined,
    });
    const bytes = Buffer.from(await answer.arrayBuffer());
    up.proxied.push(performance.now() - started);
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    res.end(bytes);
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}
