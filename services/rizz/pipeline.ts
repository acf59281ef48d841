// The generation pipeline of a job (seed 002 §4.3–4.5), run by the durable job queue: three images
// from the image generator (one prompt, three seeds), stored; then the report from the LLM (the
// original and the three results as images), validated and matched against the knowledge base; the
// job completed, and the SMS with the result link sent. A run that dies part way is run again by the
// queue: it starts from the job's state (only a processing job is worked) and clears the results of
// the run before it, so a job is never completed twice. A failure after the generator's own retries
// fails the job with its reason, and the SMS says so.
import type { Logger } from 'pino';
import type { ImageGenerator } from '../../integrations/images/index.ts';
import { newObjectKey, type ObjectStorage } from '../../integrations/storage/index.ts';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import type { LlmModule } from '../llm/gateway.ts';
import type { SmsService } from '../sms/sms.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { JobDto, JobService } from './jobs.ts';
import { RIZZ_KNOWLEDGE_BASE } from './knowledgeBase.ts';
import { matchRecommendations, parseReport, reportPrompt, type RizzReport } from './report.ts';

// The image prompt (seed 002 §4.3: one prompt, three seeds).
export const IMAGE_PROMPT = 'A natural, flattering portrait of the same person after healthy grooming: clear even skin tone, well-rested face, tidy modern hairstyle, '
  + 'neat styling, soft daylight, photorealistic, same identity, same pose, 3:4 portrait.';
const SEEDS = [11, 22, 33];

export const RESULT_SMS = (url: string) => `[Find My Rizz]\n나의 리즈 사진이 완성되었습니다!\n아래 링크에서 24시간 내에 확인하세요.\n${url}\n\n※ 24시간 후 자동 삭제됩니다.`;
export const FAILED_SMS = '[Find My Rizz]\n사진 생성에 실패했습니다. 불편을 드려 죄송합니다. 고객센터로 문의해 주세요.';

const mimeOf = (contentType: string): 'image/png' | 'image/webp' | 'image/jpeg' => (contentType === 'image/png' ? 'image/png' : contentType === 'image/webp' ? 'image/webp' : 'image/jpeg');
const extOf = (contentType: string) => (contentType === 'image/png' ? 'png' : contentType === 'image/webp' ? 'webp' : 'jpg');

// What the offline LLM cannot write (it quotes, it does not answer in JSON): a fixed report from the
// knowledge base, marked offline, so the whole job runs without keys.
// A run that lost its job to a newer run (see run()).
class RunSuperseded extends Error {
  override name = 'RunSuperseded';
}

export function offlineReport(): RizzReport {
  return {
    summary: '[offline] 오프라인 모드에서 만든 예시 리포트입니다. 실제 분석은 LLM 키가 설정된 환경에서 이루어집니다.',
    improvements: [
      { area: '피부', description: '[offline] 피부톤을 고르게 하고 수분을 유지하는 기본 관리입니다.', recommendations: ['SC003'] },
      { area: '얼굴 윤곽', description: '[offline] 붓기를 줄이는 생활 습관과 마사지입니다.', recommendations: ['SC005', 'SC007'] },
    ],
    timeline: '8-12주 예상',
    estimated_cost: '예시 비용',
  };
}

export function createPipeline(deps: {
  em: Em; storage: ObjectStorage; images: ImageGenerator; llm: LlmModule; offlineLlm: boolean; sms: SmsService; personalData: PersonalDataCipher;
  jobs: JobService; logger: Logger; resultUrl: (jobId: string) => string;
  onFinished?: (job: JobDto, seconds: number) => void;
  onSms?: (purpose: string, outcome: 'sent' | 'failed') => void;
}) {
  const { em, storage } = deps;

  async function clearResults(jobId: string): Promise<void> {
    const rows = await em.fork().execute<{ storage_key: string }[]>(`delete from rizz_job_files where job_id = ? and kind = 'result' returning storage_key`, [jobId]);
    await Promise.all(rows.map((r) => storage.delete(r.storage_key)));
  }

  // Whether `run` still owns the job, read under the job's row lock in `tx` (the final moves).
  async function owns(tx: Em, jobId: string, run: string): Promise<boolean> {
    const [r] = await tx.execute<{ generation_run: string | null }[]>(`select generation_run from rizz_jobs where id = ? for update`, [jobId]);
    return r?.generation_run === run;
  }

  // The queue's handler. Safe to run again for the same job at any point: a run takes the job over
  // (a new generation_run), clears what a run before it left, and fences each of its writes on its
  // own id, so a run that was taken over — its node stalled past the queue's expiry — writes nothing
  // more and leaves quietly. `signal` is the queue's: it ends the provider calls of an expired run.
  async function run(jobId: string, opts: { signal?: AbortSignal; lastAttempt?: boolean } = {}): Promise<void> {
    const { signal } = opts;
    const [job] = await em.fork().execute<{ run: string; phone_sealed: string | null; guest_user_id: string }[]>(
      `update rizz_jobs set generation_run = gen_random_uuid() where id = ? and status = 'processing' returning generation_run as run, phone_sealed, guest_user_id`, [jobId]);
    if (!job) return;
    const started = Date.now();
    const [crop] = await em.fork().execute<{ storage_key: string; content_type: string }[]>(`select storage_key, content_type from rizz_job_files where job_id = ? and kind = 'crop'`, [jobId]);
    const [original] = await em.fork().execute<{ storage_key: string; content_type: string }[]>(`select storage_key, content_type from rizz_job_files where job_id = ? and kind = 'original'`, [jobId]);
    try {
      if (!crop || !original) throw new Error('the job has no photo');
      await clearResults(jobId);
      const photo = (await storage.get(crop.storage_key)).bytes;
      const results: { bytes: Uint8Array; contentType: string; key: string }[] = [];
      for (const seed of SEEDS) {
        const generated = await deps.images.generate({ prompt: IMAGE_PROMPT, image: photo, seed, signal });
        const [bytes] = generated.images;
        const contentType = generated.contentTypes[0] ?? 'image/png';
        const key = newObjectKey(`rizz/jobs/${jobId}`, extOf(contentType));
        await storage.put(key, bytes, { contentType });
        const stored = await em.fork().execute(
          `insert into rizz_job_files (id, job_id, kind, storage_key, content_type, bytes, provider, provider_ref)
           select gen_random_uuid(), id, 'result', ?, ?, ?, ?, ? from rizz_jobs where id = ? and generation_run = ? returning id`,
          [key, contentType, bytes.byteLength, generated.provider, generated.predictionId, jobId, job.run]);
        if (stored.length === 0) {
          await storage.delete(key);
          throw new RunSuperseded();
        }
        results.push({ bytes, contentType, key });
      }
      const report = deps.offlineLlm ? offlineReport() : await writeReport((await storage.get(original.storage_key)).bytes, original.content_type, results);
      const { rows } = matchRecommendations(report, RIZZ_KNOWLEDGE_BASE);
      const done = await inTransaction(em.fork(), async (tx) => {
        if (!(await owns(tx, jobId, job.run))) throw new RunSuperseded();
        await tx.execute(`delete from rizz_job_recommendations where job_id = ?`, [jobId]);
        for (const r of rows) await tx.execute(`insert into rizz_job_recommendations (job_id, code, area, rank) values (?, ?, ?, ?)`, [jobId, r.code, r.area, r.rank]);
        const moved = await deps.jobs.moveIn(tx, jobId, ['processing'], 'completed', { ai_analysis: JSON.stringify(report) });
        onCommitted(tx, () => void notify(job, RESULT_SMS(deps.resultUrl(jobId)), 'rizz.report_ready'));
        return moved;
      });
      deps.onFinished?.(done, (Date.now() - started) / 1000);
    } catch (err) {
      if (err instanceof RunSuperseded) {
        deps.logger.warn({ jobId }, 'rizz generation run taken over by another run; this one stops');
        return;
      }
      // The queue ended this run (it overran its expiry): the retry it scheduled takes the job on,
      // unless this was the last attempt.
      if (signal?.aborted && !opts.lastAttempt) throw err;
      deps.logger.error({ err, jobId }, 'rizz generation failed');
      const reason = signal?.aborted ? 'generation_timed_out: the portraits were not made in time' : err instanceof Error ? err.message.slice(0, 300) : 'generation failed';
      await fail(jobId, reason, started, job.run);
    }
  }

  // The job fails with its reason and the failure SMS goes out — only if `run` (when given) still owns it.
  async function fail(jobId: string, reason: string, started: number, run?: string): Promise<boolean> {
    let recipient: { phone_sealed: string | null; guest_user_id: string } | undefined;
    const failed = await inTransaction(em.fork(), async (tx) => {
      const [r] = await tx.execute<{ generation_run: string | null; phone_sealed: string | null; guest_user_id: string }[]>(
        `select generation_run, phone_sealed, guest_user_id from rizz_jobs where id = ? for update`, [jobId]);
      if (!r || (run !== undefined && r.generation_run !== run)) return null;
      recipient = r;
      const moved = await deps.jobs.moveIn(tx, jobId, ['processing'], 'failed', { failure_reason: reason }).catch(() => null);
      if (moved) onCommitted(tx, () => void notify(recipient!, FAILED_SMS, 'rizz.report_failed'));
      return moved;
    });
    if (failed) deps.onFinished?.(failed, (Date.now() - started) / 1000);
    return failed !== null;
  }

  // The net under the queue: a job still processing long after every attempt the queue would make
  // (its nodes died on the last one, or the queue lost it) is failed, and its client told by SMS.
  async function failStalled(olderThanSeconds: number, limit = 100): Promise<{ failed: number }> {
    const stalled = await em.fork().execute<{ id: string; updated_at: Date }[]>(
      `select id, updated_at from rizz_jobs where status = 'processing' and updated_at < now() - make_interval(secs => ?) order by updated_at limit ?`, [olderThanSeconds, limit]);
    let failed = 0;
    for (const { id, updated_at } of stalled) {
      if (await fail(id, 'generation_stalled: the portraits were not made in time', new Date(updated_at).getTime())) failed++;
    }
    return { failed };
  }

  async function writeReport(original: Uint8Array, originalType: string, results: { bytes: Uint8Array; contentType: string }[]): Promise<RizzReport> {
    const { messages } = reportPrompt({ imagePrompt: IMAGE_PROMPT, knowledgeBase: RIZZ_KNOWLEDGE_BASE, generatedImages: results.length });
    const images = [{ bytes: original, contentType: originalType }, ...results].map((i) => ({ type: 'image' as const, data: i.bytes, mimeType: mimeOf(i.contentType), detail: 'low' as const }));
    const outcome = await deps.llm.chat({ messages: [messages[0], { role: 'user', content: [...messages[1].content, ...images] }], maxTokens: 1500, temperature: 0.4 });
    return parseReport(outcome.text);
  }

  // The SMS log rows carry the job's guest user, so the 24-hour deletion can erase their phone data.
  async function notify(job: { phone_sealed: string | null; guest_user_id: string }, text: string, purpose: string): Promise<void> {
    if (!job.phone_sealed) return;
    const outcome = await deps.sms.send({ phone: deps.personalData.decrypt(job.phone_sealed), text, purpose, userId: job.guest_user_id }).catch((err: unknown) => {
      deps.logger.error({ err, purpose }, 'rizz sms not sent');
      return null;
    });
    deps.onSms?.(purpose, outcome?.status ?? 'failed');
    if (outcome?.status === 'failed') deps.logger.warn({ purpose, error: outcome.error }, 'rizz sms failed after its retries');
  }

  return { run, failStalled };
}

export type Pipeline = ReturnType<typeof createPipeline>;
