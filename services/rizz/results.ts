// A job's result behind its phone number (seed 002 §5.1): the SMS link leads to a page that asks for
// the phone; the right one gets a short-lived result token, and three wrong ones in a row block that
// client (its address) from that job for an hour (429 with the time it is let in again). The result
// — the images and the original as presigned URLs valid an hour, the report and the recommendations,
// times in KST and what is left before deletion — and the survey (once per job) take the token.
import crypto from 'node:crypto';
import { z } from 'zod';
import type { ObjectStorage } from '../../integrations/storage/index.ts';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import { AppError, conflict, notFound, unauthorized } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { JOB_STATUSES } from './jobs.ts';

export const MAX_WRONG_TRIES = 3;
const BLOCK_MS = 3600_000;
const RESULT_TOKEN_MS = 30 * 60_000;
const URL_SECONDS = 3600;

export const resultDto = z
  .object({
    jobId: z.uuid(),
    status: z.enum(JOB_STATUSES),
    images: z.array(z.object({ url: z.string(), expiresAt: z.string() })).meta({ description: 'The generated portraits (three once completed)' }),
    original: z.object({ url: z.string(), expiresAt: z.string() }).nullable(),
    report: z.unknown().nullable(),
    recommendations: z.array(z.object({ code: z.string(), area: z.string(), rank: z.number().int(), title: z.string(), description: z.string() })),
    createdAt: z.string(),
    expiresAt: z.string(),
    secondsLeft: z.number().int(),
  })
  .meta({ id: 'RizzResult' });
export type ResultDto = z.infer<typeof resultDto>;

export const surveyInput = z.object({
  rating: z.number().int().min(1).max(5),
  answers: z.record(z.string().max(50), z.union([z.string().max(1000), z.number(), z.boolean()])).refine((a) => Object.keys(a).length <= 20, 'at most 20 answers').default({}),
});

export function createResultService(deps: {
  em: Em; clock: Clock; time: TimeFormatter; storage: ObjectStorage; personalData: PersonalDataCipher; signingSecret: string;
  normalizePhone: (input: string, field?: string) => string;
  wasDeleted: (jobId: string) => Promise<boolean>;
}) {
  const { em, time } = deps;
  const key = crypto.createHmac('sha256', deps.signingSecret).update('rizz-result-token').digest();
  const sign = (payload: string) => crypto.createHmac('sha256', key).update(payload).digest('base64url');

  async function job(db: Em, jobId: string, lock = false) {
    const [j] = await db.execute<{ id: string; status: (typeof JOB_STATUSES)[number]; phone_hash: string | null; ai_analysis: unknown; created_at: Date; expires_at: Date }[]>(
      `select id, status, phone_hash, ai_analysis, created_at, expires_at from rizz_jobs where id = ?${lock ? ' for update' : ''}`, [jobId],
    );
    if (!j || new Date(j.expires_at).getTime() <= deps.clock.now().getTime()) {
      if (j || (await deps.wasDeleted(jobId))) throw new AppError(410, 'job_expired', 'This result and everything of it have been deleted');
      throw notFound('Result');
    }
    return j;
  }

  async function verify(jobId: string, clientKey: string, phone: string): Promise<{ resultToken: string; expiresAt: string }> {
    const e164 = deps.normalizePhone(phone, 'phone');
    const now = deps.clock.now();
    type Outcome = { kind: 'ok' } | { kind: 'blocked'; until: Date } | { kind: 'wrong'; left: number };
    const outcome = await inTransaction(em.fork(), async (tx): Promise<Outcome> => {
      const j = await job(tx, jobId, true);
      const [attempts] = await tx.execute<{ failures: number; blocked_until: Date | null }[]>(`select failures, blocked_until from rizz_verify_attempts where job_id = ? and client_key = ?`, [jobId, clientKey]);
      if (attempts?.blocked_until && new Date(attempts.blocked_until) > now) return { kind: 'blocked', until: new Date(attempts.blocked_until) };
      const expected = Buffer.from(j.phone_hash ?? '', 'hex');
      const given = Buffer.from(deps.personalData.hash(e164), 'hex');
      if (j.phone_hash && expected.length === given.length && crypto.timingSafeEqual(expected, given)) {
        await tx.execute(`delete from rizz_verify_attempts where job_id = ? and client_key = ?`, [jobId, clientKey]);
        return { kind: 'ok' };
      }
      // A block that has run out starts the count again.
      const failures = (attempts && !attempts.blocked_until ? attempts.failures : 0) + 1;
      const until = failures >= MAX_WRONG_TRIES ? new Date(now.getTime() + BLOCK_MS) : null;
      await tx.execute(
        `insert into rizz_verify_attempts (job_id, client_key, failures, blocked_until) values (?, ?, ?, ?)
         on conflict (job_id, client_key) do update set failures = excluded.failures, blocked_until = excluded.blocked_until`,
        [jobId, clientKey, until ? 0 : failures, until],
      );
      return until ? { kind: 'blocked', until } : { kind: 'wrong', left: MAX_WRONG_TRIES - failures };
    });
    if (outcome.kind === 'blocked') {
      const retryAfter = Math.max(1, Math.ceil((outcome.until.getTime() - now.getTime()) / 1000));
      throw new AppError(429, 'verification_blocked', `Too many wrong numbers; try again at ${time.format(outcome.until)}`, { extra: { unblockAt: time.format(outcome.until), retryAfter } });
    }
    if (outcome.kind === 'wrong') throw unauthorized('phone_mismatch', `This is not the job's phone number; ${outcome.left} ${outcome.left === 1 ? 'try' : 'tries'} left`);
    const exp = now.getTime() + RESULT_TOKEN_MS;
    const payload = `${jobId}.${exp}`;
    return { resultToken: `${payload}.${sign(payload)}`, expiresAt: time.format(new Date(exp)) };
  }

  function checkToken(jobId: string, token: string | undefined): void {
    const [id, exp, mac] = (token ?? '').split('.');
    const valid = id === jobId && exp && mac && mac.length === sign(`${id}.${exp}`).length && crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(sign(`${id}.${exp}`)));
    if (!valid) throw unauthorized('invalid_result_token', 'Verify the phone number first (POST /results/:jobId/verify)');
    if (Number(exp) <= deps.clock.now().getTime()) throw unauthorized('result_token_expired', 'Verify the phone number again');
  }

  async function result(jobId: string, token: string | undefined): Promise<ResultDto> {
    checkToken(jobId, token);
    const db = em.fork();
    const j = await job(db, jobId);
    const files = await db.execute<{ kind: string; storage_key: string }[]>(`select kind, storage_key from rizz_job_files where job_id = ? order by created_at, id`, [jobId]);
    const presign = async (k: string) => {
      const p = await deps.storage.presignGet(k, { expiresInSeconds: URL_SECONDS });
      return { url: p.url, expiresAt: time.format(p.expiresAt) };
    };
    const original = files.find((f) => f.kind === 'original');
    const recommendations = await db.execute<{ code: string; area: string; rank: number; title: string; description: string }[]>(
      `select r.code, r.area, r.rank, k.title, k.description from rizz_job_recommendations r join rizz_knowledge_base k on k.code = r.code where r.job_id = ? order by r.rank`, [jobId],
    );
    return {
      jobId, status: j.status,
      images: await Promise.all(files.filter((f) => f.kind === 'result').map((f) => presign(f.storage_key))),
      original: original ? await presign(original.storage_key) : null,
      report: j.ai_analysis ?? null,
      recommendations,
      createdAt: time.format(new Date(j.created_at)), expiresAt: time.format(new Date(j.expires_at)),
      secondsLeft: Math.max(0, Math.floor((new Date(j.expires_at).getTime() - deps.clock.now().getTime()) / 1000)),
    };
  }

  async function survey(jobId: string, token: string | undefined, input: z.infer<typeof surveyInput>): Promise<void> {
    checkToken(jobId, token);
    await job(em.fork(), jobId);
    const stored = await em.fork().execute(`insert into rizz_survey_responses (job_id, rating, answers) values (?, ?, ?) on conflict (job_id) do nothing returning job_id`, [jobId, input.rating, JSON.stringify(input.answers)]);
    if (stored.length === 0) throw conflict('survey_answered', 'This job\'s survey has been answered');
  }

  return { verify, result, survey };
}

export type ResultService = ReturnType<typeof createResultService>;
