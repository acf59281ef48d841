// Replicate's HTTP API (https://replicate.com/docs/reference/http), fetch only (the `replicate` npm
// package adds nothing we need and hides the retries and caps this client must control):
//   POST /v1/predictions {version, input}            a model version (64 hex, or owner/name:version)
//   POST /v1/models/{owner}/{name}/predictions {input}   an official model, by name
//   GET  /v1/predictions/{id}                         status: starting | processing | succeeded | failed | canceled
//   POST /v1/predictions/{id}/cancel                  stop a running prediction
//   POST /v1/files (multipart, field `content`), DELETE /v1/files/{id}   input files
// Auth: `Authorization: Bearer <token>`. Errors are problem+json ({ title, detail, status }).
//
// Decisions:
// - The input photo goes as a data URL when it is small (≤ 256 KB by default, Replicate's advice for
//   data URLs) and otherwise through the Files API. An uploaded file is deleted as soon as the
//   generation ends (success or not), so the only copy left at Replicate is the prediction itself.
//   `imageInput: 'data_url' | 'file'` forces one way.
// - Completion by polling GET /v1/predictions/{id} every `pollIntervalMs` up to `maxWaitMs` per
//   prediction (then it is canceled and counts as a transient failure). A 429 while polling waits
//   the server's Retry-After (capped) and polls again. `preferWaitSeconds` sends `Prefer: wait=N` on
//   create, so a fast model can finish within the create call. No webhook: it would need a public
//   route and buys little for three short runs.
// - Retries: one generation is retried on transient failures (network, timeout, 429, 5xx, a
//   prediction that exceeded maxWaitMs) on the schedule 5 s, 10 s, 20 s (±10 %) through
//   integrations/retry.ts, a Retry-After winning over a shorter step. A retry resumes where the
//   last attempt stopped: a prediction already created is polled again rather than created anew
//   (each one costs money), and a succeeded one is only downloaded again. A create that timed out
//   may have created a prediction we never learn of (Replicate takes no idempotency key); it runs
//   out on its own and its data is removed by Replicate after an hour.
// - A failed or canceled prediction is not retried: the same input usually fails the same way.
// - Outputs: a URL or a list of URLs; at most `maxOutputs`, each at most `maxImageBytes` (checked on
//   Content-Length and while streaming), and each must be a PNG, JPEG or WebP by its magic bytes. The
//   token is sent only to the API's own origin (Files API download URLs), never to the CDN.
// - Deleting: Replicate has no API to delete a prediction; those created through the API lose their
//   input, output and logs after one hour. forget() cancels a prediction still running and reports
//   one that has finished as 'finished'.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ProviderCallError, readJson, retryAfterMs } from '../http.ts';
import { retryWithBackoff, type RetrySchedule } from '../retry.ts';
import type { ForgetResult, ImageGenerationRequest, ImageGenerationResult, ImageGenerator } from './index.ts';

const SERVICE = 'replicate';
const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);
const PREDICTION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const VERSION_ID = /^[0-9a-f]{64}$/;

// 5 s, 10 s, 20 s, staying within 10 % of each step; a Retry-After up to a minute is honoured.
export const REPLICATE_RETRY: RetrySchedule = { retries: 3, baseDelayMs: 5_000, maxDelayMs: 60_000, jitter: 0.1 };

export type ReplicateOptions = {
  apiToken: string;
  // `owner/name` (an official model, newest version), `owner/name:<version>` or a bare 64-hex version.
  model: string;
  baseUrl?: string;
  // The model's input field names; defaults: prompt, image, seed.
  inputFields?: { prompt?: string; image?: string; seed?: string };
  // Further model inputs sent with every prediction (num_outputs, output_format, strength, …).
  extraInput?: Record<string, unknown>;
  imageInput?: 'auto' | 'data_url' | 'file';
  dataUrlMaxBytes?: number;
  preferWaitSeconds?: number;
  // Per API request.
  timeoutMs?: number;
  // Per output download.
  downloadTimeoutMs?: number;
  pollIntervalMs?: number;
  // Per prediction, from its creation.
  maxWaitMs?: number;
  maxImageBytes?: number;
  maxOutputs?: number;
  retry?: RetrySchedule;
  logger?: Logger;
};

export class ImageProviderError extends ProviderCallError {
  override name = 'ImageProviderError';
  readonly predictionId?: string;
  constructor(code: string, message: string, opts: { status?: number; retryable: boolean; retryAfterMs?: number; cause?: unknown; predictionId?: string }) {
    super(SERVICE, code, message, opts);
    this.predictionId = opts.predictionId;
  }
}

type Prediction = { id: string; status: string; output?: unknown; error?: unknown };

export function createReplicateClient(opts: ReplicateOptions): ImageGenerator {
  const base = (opts.baseUrl ?? 'https://api.replicate.com/v1').replace(/\/$/, '');
  const apiOrigin = new URL(base).origin;
  const fields = { prompt: 'prompt', image: 'image', seed: 'seed', ...opts.inputFields };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const downloadTimeoutMs = opts.downloadTimeoutMs ?? 60_000;
  const pollIntervalMs = opts.pollIntervalMs ?? 1_000;
  const maxWaitMs = opts.maxWaitMs ?? 180_000;
  const maxImageBytes = opts.maxImageBytes ?? 20 * 1024 * 1024;
  const maxOutputs = opts.maxOutputs ?? 4;
  const dataUrlMaxBytes = opts.dataUrlMaxBytes ?? 256 * 1024;
  const schedule = opts.retry ?? REPLICATE_RETRY;
  const target = modelTarget(opts.model);
  const auth = { authorization: `Bearer ${opts.apiToken}` };

  // One HTTP request: the caller's signal and a timeout; network failures become retryable errors.
  async function call(url: string, init: RequestInit & { signal?: AbortSignal; timeout?: number }): Promise<Response> {
    const { signal, timeout = timeoutMs, ...rest } = init;
    const timer = AbortSignal.timeout(timeout);
    try {
      return await fetch(url, { ...rest, signal: signal ? AbortSignal.any([signal, timer]) : timer });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const timedOut = timer.aborted;
      throw new ImageProviderError(timedOut ? 'timeout' : 'network_error', timedOut ? `timed out after ${timeout} ms` : 'network error', { retryable: true, cause: err });
    }
  }

  async function httpError(res: Response, predictionId?: string): Promise<ImageProviderError> {
    const body = (await readJson(res)) as { title?: string; detail?: string } | undefined;
    const detail = typeof body?.detail === 'string' ? `: ${body.detail.slice(0, 300)}` : '';
    const s = res.status;
    const code = s === 401 || s === 403 ? 'unauthorized' : s === 404 ? 'not_found' : s === 422 ? 'invalid_input' : s === 429 ? 'rate_limited' : s >= 500 ? 'provider_unavailable' : `http_${s}`;
    return new ImageProviderError(code, `HTTP ${s}${detail}`, { status: s, retryable: s === 429 || s >= 500 || s === 408, retryAfterMs: retryAfterMs(res.headers.get('retry-after')), predictionId });
  }

  async function parsePrediction(res: Response): Promise<Prediction> {
    const body = (await readJson(res)) as Partial<Prediction> | undefined;
    if (!body || typeof body.id !== 'string' || !PREDICTION_ID.test(body.id) || typeof body.status !== 'string') {
      throw new ImageProviderError('bad_response', 'prediction without id or status', { status: res.status, retryable: true });
    }
    return body as Prediction;
  }

  async function uploadFile(image: Uint8Array, mime: string, signal?: AbortSignal): Promise<{ id: string; url: string }> {
    const form = new FormData();
    form.append('content', new Blob([new Uint8Array(image)], { type: mime }), `input.${mime.split('/')[1]}`);
    const res = await call(`${base}/files`, { method: 'POST', headers: auth, body: form, signal });
    if (!res.ok) throw await httpError(res);
    const body = (await readJson(res)) as { id?: unknown; urls?: { get?: unknown } } | undefined;
    if (typeof body?.id !== 'string' || typeof body.urls?.get !== 'string') throw new ImageProviderError('bad_response', 'file without id or url', { status: res.status, retryable: true });
    return { id: body.id, url: body.urls.get };
  }

  async function deleteFile(id: string): Promise<void> {
    try {
      const res = await call(`${base}/files/${encodeURIComponent(id)}`, { method: 'DELETE', headers: auth });
      if (!res.ok && res.status !== 404) throw await httpError(res);
    } catch (err) {
      opts.logger?.warn({ provider: SERVICE, fileId: id, err: (err as Error).message }, 'replicate: could not delete the uploaded input file');
    }
  }

  async function createPrediction(input: Record<string, unknown>, signal?: AbortSignal): Promise<Prediction> {
    const headers: Record<string, string> = { ...auth, 'content-type': 'application/json' };
    if (opts.preferWaitSeconds) headers.prefer = `wait=${Math.min(60, Math.max(1, Math.round(opts.preferWaitSeconds)))}`;
    const body = target.version ? { version: target.version, input } : { input };
    const res = await call(target.createUrl(base), { method: 'POST', headers, body: JSON.stringify(body), signal, timeout: timeoutMs + (opts.preferWaitSeconds ?? 0) * 1000 });
    if (!res.ok) throw await httpError(res);
    return parsePrediction(res);
  }

  async function getPrediction(id: string, signal?: AbortSignal): Promise<Response> {
    return call(`${base}/predictions/${encodeURIComponent(id)}`, { method: 'GET', headers: auth, signal });
  }

  async function cancelPrediction(id: string, signal?: AbortSignal): Promise<Prediction | undefined> {
    const res = await call(`${base}/predictions/${encodeURIComponent(id)}/cancel`, { method: 'POST', headers: auth, signal });
    if (res.status === 404) return undefined;
    if (!res.ok) throw await httpError(res, id);
    return parsePrediction(res);
  }

  // Polls until the prediction ends or its deadline passes (then cancels it).
  async function settle(p: Prediction, deadline: number, signal?: AbortSignal): Promise<Prediction> {
    let current = p;
    while (!TERMINAL.has(current.status)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        await cancelPrediction(current.id).catch(() => undefined);
        throw new ImageProviderError('prediction_timeout', `prediction ${current.id} did not finish within ${maxWaitMs} ms`, { retryable: true, predictionId: current.id });
      }
      await sleep(Math.min(pollIntervalMs, remaining), undefined, { signal });
      const res = await getPrediction(current.id, signal);
      if (res.status === 429) {
        const wait = Math.min(retryAfterMs(res.headers.get('retry-after')) ?? pollIntervalMs, schedule.maxDelayMs, Math.max(0, deadline - Date.now()));
        await res.body?.cancel();
        await sleep(wait, undefined, { signal });
        continue;
      }
      if (!res.ok) throw await httpError(res, current.id);
      current = await parsePrediction(res);
    }
    return current;
  }

  async function download(url: string, signal?: AbortSignal): Promise<{ bytes: Uint8Array; contentType: string }> {
    const headers = new URL(url).origin === apiOrigin ? auth : undefined;
    const res = await call(url, { method: 'GET', headers, signal, timeout: downloadTimeoutMs });
    if (!res.ok) throw await httpError(res);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxImageBytes) {
      await res.body?.cancel();
      throw new ImageProviderError('output_too_large', `output of ${declared} bytes exceeds ${maxImageBytes}`, { retryable: false });
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxImageBytes) {
          await reader.cancel();
          throw new ImageProviderError('output_too_large', `output exceeds ${maxImageBytes} bytes`, { retryable: false });
        }
        chunks.push(value);
      }
    }
    const bytes = Buffer.concat(chunks);
    const contentType = sniffImage(bytes);
    if (!contentType) throw new ImageProviderError('output_invalid', 'output is not a PNG, JPEG or WebP image', { retryable: false });
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType };
  }

  function outputUrls(p: Prediction): string[] {
    const list = (Array.isArray(p.output) ? p.output : [p.output]).filter((u): u is string => typeof u === 'string');
    const urls = list.filter((u) => /^https?:\/\//i.test(u));
    if (!urls.length) throw new ImageProviderError('output_missing', `prediction ${p.id} succeeded without image URLs`, { retryable: false, predictionId: p.id });
    return urls.slice(0, maxOutputs);
  }

  async function generate(req: ImageGenerationRequest): Promise<ImageGenerationResult> {
    const { signal } = req;
    signal?.throwIfAborted();
    const mime = sniffImage(req.image);
    if (!mime) throw new ImageProviderError('invalid_input', 'input image is not a PNG, JPEG or WebP', { retryable: false });
    const useFile = opts.imageInput === 'file' || (opts.imageInput !== 'data_url' && req.image.byteLength > dataUrlMaxBytes);
    // State kept across attempts, so a retry resumes rather than starts over.
    let file: { id: string; url: string } | undefined;
    let prediction: Prediction | undefined;
    let deadline = 0;
    try {
      return await retryWithBackoff(
        schedule,
        async () => {
          if (!prediction) {
            let image: string;
            if (useFile) image = (file ??= await uploadFile(req.image, mime, signal)).url;
            else image = `data:${mime};base64,${Buffer.from(req.image).toString('base64')}`;
            const input = { ...opts.extraInput, [fields.prompt]: req.prompt, [fields.image]: image, [fields.seed]: req.seed };
            prediction = await createPrediction(input, signal);
            deadline = Date.now() + maxWaitMs;
          }
          try {
            prediction = await settle(prediction, deadline, signal);
          } catch (err) {
            // Past its deadline the prediction was canceled: the next attempt makes a new one.
            if (err instanceof ImageProviderError && err.code === 'prediction_timeout') prediction = undefined;
            throw err;
          }
          if (prediction.status === 'failed') {
            const why = typeof prediction.error === 'string' ? `: ${prediction.error.slice(0, 300)}` : '';
            throw new ImageProviderError('prediction_failed', `prediction ${prediction.id} failed${why}`, { retryable: false, predictionId: prediction.id });
          }
          if (prediction.status === 'canceled') throw new ImageProviderError('prediction_canceled', `prediction ${prediction.id} was canceled`, { retryable: false, predictionId: prediction.id });
          const downloads = [];
          for (const url of outputUrls(prediction)) downloads.push(await download(url, signal));
          return {
            images: downloads.map((d) => d.bytes),
            contentTypes: downloads.map((d) => d.contentType),
            predictionId: prediction.id,
            provider: 'replicate' as const,
            offline: false,
          };
        },
        {
          signal,
          retryable: (err) => err instanceof ProviderCallError && err.retryable,
          retryAfterMs: (err) => (err instanceof ProviderCallError ? err.retryAfterMs : undefined),
          onFailure: (err, n, willRetry) => {
            const code = err instanceof ProviderCallError ? err.code : (err as Error)?.name;
            opts.logger?.[willRetry ? 'info' : 'warn']({ provider: SERVICE, code, attempt: n, willRetry, predictionId: prediction?.id }, 'replicate generation attempt failed');
          },
        },
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw err;
    } finally {
      // Whatever happened, nothing of ours keeps running or stays stored longer than needed.
      if (prediction && !TERMINAL.has(prediction.status)) await cancelPrediction(prediction.id).catch(() => undefined);
      if (file) await deleteFile(file.id);
    }
  }

  async function forget(predictionId: string): Promise<ForgetResult> {
    if (!PREDICTION_ID.test(predictionId)) return { predictionId, outcome: 'not_found' };
    const p = await retryWithBackoff(schedule, () => cancelPrediction(predictionId), {
      retryable: (err) => err instanceof ProviderCallError && err.retryable,
      retryAfterMs: (err) => (err instanceof ProviderCallError ? err.retryAfterMs : undefined),
    });
    if (!p) return { predictionId, outcome: 'not_found' };
    return { predictionId, outcome: p.status === 'canceled' ? 'canceled' : 'finished' };
  }

  return { provider: 'replicate', offline: false, generate, forget };
}

function modelTarget(model: string): { version?: string; createUrl: (base: string) => string } {
  const [name, version] = model.split(':');
  if (version !== undefined) {
    if (!VERSION_ID.test(version)) throw new Error(`replicate: bad model version in "${model}"`);
    return { version, createUrl: (base) => `${base}/predictions` };
  }
  if (VERSION_ID.test(name)) return { version: name, createUrl: (base) => `${base}/predictions` };
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(name);
  if (!m) throw new Error(`replicate: model must be owner/name, owner/name:version or a version id, got "${model}"`);
  return { createUrl: (base) => `${base}/models/${m[1]}/${m[2]}/predictions` };
}

// PNG, JPEG or WebP by magic bytes.
export function sniffImage(b: Uint8Array): 'image/png' | 'image/jpeg' | 'image/webp' | undefined {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP') return 'image/webp';
  return undefined;
}
