// A fake of Replicate's HTTP API over real HTTP, for what integrations/images/replicate.ts uses:
//   POST /v1/predictions {version, input}, POST /v1/models/{owner}/{name}/predictions {input}
//     → 201 with status "starting" (or, with `Prefer: wait`, already finished)
//   GET  /v1/predictions/{id}   → starting → processing → succeeded, one step per poll
//   POST /v1/predictions/{id}/cancel → 200 with the prediction (canceled unless it had finished)
//   POST /v1/files (multipart, field `content`) → 201 { id, urls: { get } }; DELETE /v1/files/{id} → 204
//   GET  /delivery/{id}/out-{n}.png   the output files, on a second origin and unauthenticated,
//                                     like replicate.delivery
// Every API call needs `Authorization: Bearer <token>`; errors are Replicate's problem+json
// ({ title, detail, status }). The "model" draws a small PNG whose colour comes from the seed.
// Faults can be scripted per route (500s, 429 with Retry-After) and per prediction (failed, stuck
// for ever, an oversized or non-image output). Every request is recorded.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export type FakeReplicateRoute = 'create' | 'get' | 'cancel' | 'files' | 'delete_file' | 'download';
export type FakeReplicateOutcome = 'succeeded' | 'failed' | 'stuck' | 'huge' | 'not_image';

export type FakeReplicateRequest = { method: string; path: string; route?: FakeReplicateRoute; headers: http.IncomingHttpHeaders; json?: any; bytes: number };

export type FakePrediction = {
  id: string;
  model: string;
  version: string | null;
  input: Record<string, unknown>;
  logs: string;
  output: string[] | null;
  data_removed: boolean;
  error: string | null;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  urls: { get: string; cancel: string; web: string };
  metrics: Record<string, number>;
};

export type FakeReplicate = {
  url: string;
  apiUrl: string;
  token: string;
  requests: FakeReplicateRequest[];
  predictions: Map<string, FakePrediction>;
  // Uploaded files still held (deleted ones are gone).
  files: Map<string, { bytes: Buffer; contentType: string }>;
  // The decoded input image each prediction received, by prediction id.
  inputImages: Map<string, Buffer>;
  // The next `count` requests to `route` answer `status` (429 carries Retry-After: retryAfter s).
  failNext: (route: FakeReplicateRoute, count: number, status: number, retryAfter?: number) => void;
  // How the next predictions end, in order; after the list, they succeed.
  outcomes: (...outcomes: FakeReplicateOutcome[]) => void;
  // Polls a prediction takes from creation to its end (default 2: processing, then done).
  pollsToFinish: number;
  // The bytes the model draws for a seed (what the client should download).
  imageFor: (seed: number) => Promise<Buffer>;
  count: (route: FakeReplicateRoute) => number;
  close: () => Promise<void>;
};

const VERSION_ID = /^[0-9a-f]{64}$/;

export async function startFakeReplicate(opts: { token?: string } = {}): Promise<FakeReplicate> {
  const token = opts.token ?? `r8_${crypto.randomBytes(16).toString('hex')}`;
  const requests: FakeReplicateRequest[] = [];
  const predictions = new Map<string, FakePrediction>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  const inputImages = new Map<string, Buffer>();
  const outputs = new Map<string, Buffer>();
  const plan = new Map<string, { outcome: FakeReplicateOutcome; polls: number; seed: number }>();
  const faults: { route: FakeReplicateRoute; status: number; retryAfter?: number }[] = [];
  const outcomeQueue: FakeReplicateOutcome[] = [];
  let base = '';
  // Outputs are served from a second origin, as replicate.delivery is apart from api.replicate.com.
  let deliveryBase = '';

  const problem = (res: http.ServerResponse, status: number, title: string, detail: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
    res.end(JSON.stringify({ title, detail, status }));
  };
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const newId = () => crypto.randomBytes(16).toString('hex').slice(0, 26);

  async function imageFor(seed: number): Promise<Buffer> {
    const h = crypto.createHash('sha256').update(String(seed)).digest();
    return sharp({ create: { width: 32, height: 32, channels: 3, background: { r: h[0], g: h[1], b: h[2] } } }).png().toBuffer();
  }

  // Moves a prediction one step on (a poll), ending it as planned.
  async function advance(p: FakePrediction, toEnd = false): Promise<void> {
    const pl = plan.get(p.id)!;
    if (p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled' || pl.outcome === 'stuck') return;
    pl.polls += 1;
    if (!toEnd && pl.polls < fake.pollsToFinish) {
      p.status = 'processing';
      p.started_at ??= new Date().toISOString();
      p.logs += `step ${pl.polls}\n`;
      return;
    }
    p.started_at ??= new Date().toISOString();
    p.completed_at = new Date().toISOString();
    if (pl.outcome === 'failed') {
      p.status = 'failed';
      p.error = 'CUDA out of memory';
      return;
    }
    const bytes = pl.outcome === 'huge' ? Buffer.concat([(await imageFor(pl.seed)).subarray(0, 8), Buffer.alloc(3 * 1024 * 1024)]) : pl.outcome === 'not_image' ? Buffer.from('<html>oops</html>') : await imageFor(pl.seed);
    outputs.set(`${p.id}/out-0.png`, bytes);
    p.output = [`${deliveryBase}/delivery/${p.id}/out-0.png`];
    p.metrics = { predict_time: 0.01 };
    p.status = 'succeeded';
  }

  async function readInputImage(value: unknown): Promise<Buffer | undefined> {
    if (typeof value !== 'string') return undefined;
    const m = /^data:(image\/[a-z]+);base64,(.+)$/.exec(value);
    if (m) return Buffer.from(m[2], 'base64');
    const f = /\/v1\/files\/([^/]+)$/.exec(value);
    return f ? files.get(f[1])?.bytes : undefined;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let route: FakeReplicateRoute | undefined;
    if (method === 'POST' && (path === '/v1/predictions' || /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(path))) route = 'create';
    else if (method === 'GET' && /^\/v1\/predictions\/[^/]+$/.test(path)) route = 'get';
    else if (method === 'POST' && /^\/v1\/predictions\/[^/]+\/cancel$/.test(path)) route = 'cancel';
    else if (method === 'POST' && path === '/v1/files') route = 'files';
    else if (method === 'DELETE' && /^\/v1\/files\/[^/]+$/.test(path)) route = 'delete_file';
    let parsed: any;
    if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return problem(res, 400, 'Bad request', 'invalid JSON');
      }
    }
    requests.push({ method, path, route, headers: req.headers, json: parsed, bytes: body.length });

    if (req.headers.authorization !== `Bearer ${token}`) return problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token');
    const fault = route && faults.findIndex((f) => f.route === route);
    if (route && fault !== undefined && fault >= 0) {
      const f = faults.splice(fault, 1)[0];
      const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {};
      return problem(res, f.status, f.status === 429 ? 'Request was throttled' : 'Internal server error', f.status === 429 ? 'Request was throttled.' : 'Something went wrong', headers);
    }

    switch (route) {
      case 'create': {
        const modelPath = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
        const version = modelPath ? null : parsed?.version;
        if (!modelPath && (typeof version !== 'string' || !VERSION_ID.test(version))) return problem(res, 422, 'Invalid version or not permitted', 'The specified version does not exist (or perhaps you don\'t have permission to use it?)');
        const input = parsed?.input;
        if (!input || typeof input !== 'object') return problem(res, 422, 'Input validation failed', '- input is required');
        // The model's image field has no fixed name (image, input_image, …): the first data URL or
        // file URL among the inputs is the photo.
        let image: Buffer | undefined;
        for (const value of Object.values(input)) image ??= await readInputImage(value);
        if (!image) return problem(res, 422, 'Input validation failed', '- image: Does not match format \'uri\'');
        const id = newId();
        const p: FakePrediction = {
          id,
          model: modelPath ? `${modelPath[1]}/${modelPath[2]}` : 'fake/model',
          version: version ?? null,
          input,
          logs: '',
          output: null,
          data_removed: false,
          error: null,
          status: 'starting',
          created_at: new Date().toISOString(),
          started_at: null,
          completed_at: null,
          urls: { get: `${base}/v1/predictions/${id}`, cancel: `${base}/v1/predictions/${id}/cancel`, web: `https://replicate.com/p/${id}` },
          metrics: {},
        };
        predictions.set(id, p);
        inputImages.set(id, image);
        plan.set(id, { outcome: outcomeQueue.shift() ?? 'succeeded', polls: 0, seed: Number(input.seed ?? 0) });
        const wait = /wait(?:=(\d+))?/.exec(String(req.headers.prefer ?? ''));
        if (wait) await advance(p, true);
        return json(res, 201, p, wait ? { 'preference-applied': `wait=${wait[1] ?? 60}` } : {});
      }
      case 'get': {
        const p = predictions.get(path.split('/')[3]);
        if (!p) return problem(res, 404, 'Not found', 'Not found.');
        await advance(p);
        return json(res, 200, p);
      }
      case 'cancel': {
        const p = predictions.get(path.split('/')[3]);
        if (!p) return problem(res, 404, 'Not found', 'Not found.');
        if (p.status === 'starting' || p.status === 'processing') {
          p.status = 'canceled';
          p.completed_at = new Date().toISOString();
        }
        return json(res, 200, p);
      }
      case 'files': {
        const form = await new Response(new Uint8Array(body), { headers: { 'content-type': String(req.headers['content-type'] ?? '') } }).formData().catch(() => undefined);
        const content = form?.get('content');
        if (!content || typeof content === 'string') return problem(res, 400, 'Bad request', 'content is required');
        const bytes = Buffer.from(await content.arrayBuffer());
        const id = newId();
        files.set(id, { bytes, contentType: content.type });
        const now = new Date();
        return json(res, 201, {
          id,
          name: content.name,
          content_type: content.type,
          size: bytes.length,
          etag: crypto.createHash('md5').update(bytes).digest('hex'),
          checksums: { sha256: crypto.createHash('sha256').update(bytes).digest('hex') },
          metadata: {},
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + 86_400_000).toISOString(),
          urls: { get: `${base}/v1/files/${id}` },
        });
      }
      case 'delete_file': {
        const id = path.split('/')[3];
        if (!files.delete(id)) return problem(res, 404, 'Not found', 'Not found.');
        res.writeHead(204);
        return void res.end();
      }
      default:
        return problem(res, 404, 'Not found', 'Not found.');
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err) => problem(res, 500, 'Internal server error', (err as Error).message));
    });
  });
  const delivery = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      requests.push({ method: req.method ?? 'GET', path, route: 'download', headers: req.headers, bytes: 0 });
      const fault = faults.findIndex((f) => f.route === 'download');
      if (fault >= 0) return problem(res, faults.splice(fault, 1)[0].status, 'Bad gateway', 'upstream error');
      const bytes = outputs.get(path.replace(/^\/delivery\//, ''));
      if (req.method !== 'GET' || !bytes) return problem(res, 404, 'Not found', 'Not found.');
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length) });
      res.end(bytes);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => delivery.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  deliveryBase = `http://127.0.0.1:${(delivery.address() as AddressInfo).port}`;

  const fake: FakeReplicate = {
    url: base,
    apiUrl: `${base}/v1`,
    token,
    requests,
    predictions,
    files,
    inputImages,
    failNext: (route, count, status, retryAfter) => {
      for (let i = 0; i < count; i++) faults.push({ route, status, retryAfter });
    },
    outcomes: (...o) => void outcomeQueue.push(...o),
    pollsToFinish: 2,
    imageFor,
    count: (route) => requests.filter((r) => r.route === route).length,
    close: async () => {
      for (const s of [server, delivery]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
  return fake;
}
