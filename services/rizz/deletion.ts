// The 24-hour deletion you can prove (seed 002 §5.2): every job past its expiry loses its storage
// objects (original, crop, results), its rows (files, recommendations, survey: on delete cascade) and
// the phone number in its SMS logs; the image provider is asked to forget the job's predictions (a
// Replicate prediction made through the API loses its input and output after an hour on its own and
// cannot be deleted sooner; one still running is canceled); and it gets a receipt — counts and times,
// nothing personal — readable by its id. A provider that cannot be reached does not hold our own
// deletion back: the receipt counts its predictions as unconfirmed. A job whose storage
// could not be cleared keeps its rows and gets no receipt: the next run tries again, so a receipt is
// never written while anything of the job is left. The guest payer row stays (it holds no personal
// data and the payment, a financial record, refers to it).
import { z } from 'zod';
import type { Logger } from 'pino';
import type { ImageGenerator } from '../../integrations/images/index.ts';
import type { ObjectStorage } from '../../integrations/storage/index.ts';
import { notFound } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';

export const receiptDto = z
  .object({
    jobId: z.uuid(),
    jobCreatedAt: z.string(),
    expiredAt: z.string(),
    deletedAt: z.string(),
    deleted: z.object({
      storageObjects: z.number().int(), files: z.number().int(), recommendations: z.number().int(), surveyResponses: z.number().int(), phone: z.boolean(),
      smsLogsErased: z.number().int().meta({ description: "SMS log rows of the job whose phone number was erased (the delivery record stays)" }), job: z.boolean(),
      providerPredictions: z.object({
        asked: z.number().int(), canceled: z.number().int(), finished: z.number().int(), notFound: z.number().int(), unconfirmed: z.number().int(),
      }).meta({ description: "The image provider's predictions of the job, asked to be forgotten: canceled (still running), finished (the provider removes their data an hour after), not found, or unconfirmed (the provider could not be reached)" }),
    }),
  })
  .meta({ id: 'RizzDeletionReceipt' });
export type ReceiptDto = z.infer<typeof receiptDto>;

export function createDeletionService(deps: { em: Em; storage: ObjectStorage; images: ImageGenerator; clock: Clock; time: TimeFormatter; logger: Logger; onDeleted?: (count: number) => void }) {
  const { em, time } = deps;

  async function forgetPredictions(jobId: string): Promise<ReceiptDto['deleted']['providerPredictions']> {
    const tally = { asked: 0, canceled: 0, finished: 0, notFound: 0, unconfirmed: 0 };
    if (deps.images.offline) return tally; // offline results were never anywhere but here
    const refs = await em.fork().execute<{ provider_ref: string }[]>(
      `select provider_ref from rizz_job_files where job_id = ? and provider = ? and provider_ref is not null`, [jobId, deps.images.provider]);
    tally.asked = refs.length;
    for (const { provider_ref } of refs) {
      const outcome = await deps.images.forget(provider_ref).then((r) => r.outcome, (err: unknown) => {
        deps.logger.warn({ err, jobId }, 'rizz: the image provider could not be asked to forget a prediction');
        return 'unconfirmed' as const;
      });
      if (outcome === 'canceled') tally.canceled++;
      else if (outcome === 'finished') tally.finished++;
      else if (outcome === 'not_found') tally.notFound++;
      else if (outcome === 'unconfirmed') tally.unconfirmed++;
    }
    return tally;
  }

  // One pass over expired jobs; answers how many were deleted and how many are left for the next run.
  async function purgeExpired(limit = 100): Promise<{ deleted: number; failed: number }> {
    const expired = await em.fork().execute<{ id: string }[]>(`select id from rizz_jobs where expires_at <= ? order by expires_at limit ?`, [deps.clock.now(), limit]);
    let deleted = 0;
    let failed = 0;
    for (const { id } of expired) {
      try {
        const providerPredictions = await forgetPredictions(id);
        const storageObjects = await deps.storage.deletePrefix(`rizz/jobs/${id}`);
        await inTransaction(em.fork(), async (tx) => {
          const [counts] = await tx.execute<{ files: string; recommendations: string; survey: string; phone: boolean; created_at: Date; expires_at: Date; guest_user_id: string }[]>(
            `select j.guest_user_id, (select count(*) from rizz_job_files where job_id = j.id) as files,
                    (select count(*) from rizz_job_recommendations where job_id = j.id) as recommendations,
                    (select count(*) from rizz_survey_responses where job_id = j.id) as survey,
                    j.phone_hash is not null as phone, j.created_at, j.expires_at
               from rizz_jobs j where j.id = ? for update`,
            [id],
          );
          if (!counts) return;
          // The SMS sent for the job keep their delivery record; the number in them goes.
          const erased = await tx.execute(`update sms_logs set phone_hash = 'erased', phone_encrypted = '' where user_id = ? and phone_encrypted <> '' returning id`, [counts.guest_user_id]);
          await tx.execute(`delete from rizz_jobs where id = ?`, [id]);
          const receipt = { storageObjects, files: Number(counts.files), recommendations: Number(counts.recommendations), surveyResponses: Number(counts.survey), phone: counts.phone, smsLogsErased: erased.length, job: true, providerPredictions };
          await tx.execute(`insert into rizz_deletion_receipts (job_id, job_created_at, expired_at, deleted_at, deleted) values (?, ?, ?, ?, ?) on conflict do nothing`,
            [id, counts.created_at, counts.expires_at, deps.clock.now(), JSON.stringify(receipt)]);
        });
        deleted++;
      } catch (err) {
        failed++;
        deps.logger.warn({ err, jobId: id }, 'rizz job not deleted yet; the next run tries again');
      }
    }
    if (deleted) deps.onDeleted?.(deleted);
    return { deleted, failed };
  }

  async function receipt(jobId: string): Promise<ReceiptDto> {
    const [r] = await em.fork().execute<{ job_id: string; job_created_at: Date; expired_at: Date; deleted_at: Date; deleted: ReceiptDto['deleted'] }[]>(
      `select * from rizz_deletion_receipts where job_id = ?`, [jobId],
    );
    if (!r) throw notFound('Deletion receipt');
    return { jobId: r.job_id, jobCreatedAt: time.format(new Date(r.job_created_at)), expiredAt: time.format(new Date(r.expired_at)), deletedAt: time.format(new Date(r.deleted_at)), deleted: r.deleted };
  }

  async function wasDeleted(jobId: string): Promise<boolean> {
    return (await em.fork().execute(`select 1 from rizz_deletion_receipts where job_id = ?`, [jobId])).length > 0;
  }

  return { purgeExpired, receipt, wasDeleted };
}

export type DeletionService = ReturnType<typeof createDeletionService>;
