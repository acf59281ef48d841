// A "Find My Rizz" job (seed 002): pending_payment → pending_phone → pending_upload → processing →
// completed | failed, 24 hours from its creation. No accounts: the job token returned at creation
// (kept only as a hash) authorises its client. Each move is one guarded UPDATE from the states it may
// come from, so a move not allowed from the current state is a 409 and two racing moves move it once.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import { newObjectKey, ObjectNotFoundError, type ObjectStorage, type PresignedRequest } from '../../integrations/storage/index.ts';
import type { WorkerPool } from '../../workers/pool.ts';
import type { PaymentService } from '../billing/payments.ts';
import { AppError, notFound, unauthorized } from '../errors.ts';
import { acceptImage } from '../images.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import { pgArray } from '../pgArray.ts';

export const JOB_STATUSES = ['pending_payment', 'pending_phone', 'pending_upload', 'processing', 'completed', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const JOB_LIFETIME_MS = 24 * 3600_000;
export const REPORT_PRODUCT = 'rizz.report';
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export const jobDto = z
  .object({
    id: z.uuid(),
    status: z.enum(JOB_STATUSES),
    phoneRegistered: z.boolean(),
    uploaded: z.boolean(),
    failureReason: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string(),
    secondsLeft: z.number().int().meta({ description: 'Until everything of the job is deleted' }),
  })
  .meta({ id: 'RizzJob' });
export type JobDto = z.infer<typeof jobDto>;

type Row = {
  id: string; status: JobStatus; token_hash: string; guest_user_id: string; order_id: string | null; phone_hash: string | null; failure_reason: string | null;
  created_at: Date; expires_at: Date; files: string;
};

// Direct uploads land here; the purge's deletePrefix(rizz/jobs/<id>) covers them too.
const incomingPrefix = (jobId: string) => `rizz/jobs/${jobId}/incoming`;
const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

export function createJobService(deps: {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger; payments: PaymentService; personalData: PersonalDataCipher; storage: ObjectStorage; pool: WorkerPool;
  provider?: 'portone';
  normalizePhone: (input: string, field?: string) => string;
  // Whether a job was deleted at its expiry (its receipt exists): then it answers 410, not 404.
  wasDeleted?: (jobId: string) => Promise<boolean>;
  // After a committed move: the job's clients are told (its socket room), metrics counted.
  onMoved?: (job: JobDto) => void;
  // A job and its order were made (the payment success rate counts from here).
  onStarted?: (job: JobDto) => void;
}) {
  const { em, time } = deps;

  const toDto = (r: Row): JobDto => ({
    id: r.id, status: r.status, phoneRegistered: r.phone_hash !== null, uploaded: Number(r.files) > 0, failureReason: r.failure_reason,
    createdAt: time.format(new Date(r.created_at)), expiresAt: time.format(new Date(r.expires_at)),
    secondsLeft: Math.max(0, Math.floor((new Date(r.expires_at).getTime() - deps.clock.now().getTime()) / 1000)),
  });

  async function load(db: Em, jobId: string, lock = false): Promise<Row | undefined> {
    const [r] = await db.execute<Row[]>(
      `select j.*, (select count(*) from rizz_job_files f where f.job_id = j.id and f.kind = 'original') as files from rizz_jobs j where j.id = ?${lock ? ' for update of j' : ''}`,
      [jobId],
    );
    return r;
  }

  // The job, if `token` is its token and it has not expired (a job past its 24 hours is gone: 410).
  async function authorized(db: Em, jobId: string, token: string | undefined, lock = false): Promise<Row> {
    if (!token) throw unauthorized('missing_job_token', 'Send the job token as "X-Job-Token"');
    const r = await load(db, jobId, lock);
    if (!r && (await deps.wasDeleted?.(jobId))) throw new AppError(410, 'job_expired', 'This job and everything of it have been deleted');
    if (!r) throw notFound('Job');
    const a = Buffer.from(r.token_hash, 'hex');
    const b = Buffer.from(hashToken(token), 'hex');
    if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw unauthorized('invalid_job_token', 'This token is not the job\'s');
    if (new Date(r.expires_at).getTime() <= deps.clock.now().getTime()) throw new AppError(410, 'job_expired', 'This job and everything of it have been deleted');
    return r;
  }

  // Moves the job from one of `from` to `to` in `tx`, or answers 409 naming the state it is in.
  async function move(tx: Em, jobId: string, from: JobStatus[], to: JobStatus, set: Record<string, unknown> = {}): Promise<JobDto> {
    const cols = Object.keys(set);
    const moved = await tx.execute<{ id: string }[]>(
      `update rizz_jobs set status = ?, updated_at = now()${cols.map((c) => `, ${c} = ?`).join('')} where id = ? and status = any(?::text[]) returning id`,
      [to, ...Object.values(set), jobId, pgArray(from)],
    );
    const r = await load(tx, jobId);
    if (!r) throw notFound('Job');
    if (moved.length === 0) throw new AppError(409, 'invalid_transition', `The job is ${r.status}; it cannot move to ${to} from there`, { extra: { status: r.status } });
    const dto = toDto(r);
    onCommitted(tx, () => deps.onMoved?.(dto));
    return dto;
  }

  // POST /payments/initialize: a job, its guest payer, and the order for the report (9,900 KRW, the
  // product's price). The token is returned once; only its hash is kept.
  async function initialize(): Promise<{ job: JobDto; jobToken: string; order: Awaited<ReturnType<PaymentService['createOrder']>> }> {
    const id = crypto.randomUUID();
    const token = crypto.randomBytes(32).toString('base64url');
    const guest = crypto.randomUUID();
    const now = deps.clock.now();
    await inTransaction(em.fork(), async (tx) => {
      await tx.execute(`insert into users (id, username) values (?, ?)`, [guest, `rizz-guest-${guest}`]);
      await tx.execute(`insert into rizz_jobs (id, status, token_hash, guest_user_id, created_at, expires_at) values (?, 'pending_payment', ?, ?, ?, ?)`,
        [id, hashToken(token), guest, now, new Date(now.getTime() + JOB_LIFETIME_MS)]);
    });
    const order = await deps.payments.createOrder(guest, { productId: REPORT_PRODUCT, provider: deps.provider, metadata: { rizzJobId: id } });
    await em.fork().execute(`update rizz_jobs set order_id = ? where id = ?`, [order.orderId, id]);
    const job = toDto((await load(em.fork(), id))!);
    deps.onStarted?.(job);
    return { job, jobToken: token, order };
  }

  // The module's payment handler, in the payment's transaction: the paid job moves on, once.
  async function paid(tx: Em, orderId: string): Promise<void> {
    const [r] = await tx.execute<{ id: string; status: JobStatus }[]>(`select id, status from rizz_jobs where order_id = ? for update`, [orderId]);
    if (!r) {
      deps.logger.warn({ orderId }, 'rizz payment for a job that is gone');
      return;
    }
    if (r.status === 'pending_payment') await move(tx, r.id, ['pending_payment'], 'pending_phone');
  }

  // The client's completion call, after PortOne's payment window closes. What the client says is not
  // trusted: the order's state is asked of the provider and applied as the webhook would apply it, so
  // whichever of the two arrives first moves the job, once, and the other finds it moved.
  async function completePayment(jobId: string, token: string | undefined): Promise<JobDto> {
    const job = await authorized(em.fork(), jobId, token);
    if (job.status === 'pending_payment' && job.order_id) {
      // PortOne knows no payment until its window has taken one: the job is simply not paid yet.
      const synced = await deps.payments.syncFromProvider(job.order_id).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'payment_not_found') return undefined;
        throw err;
      });
      const outcome = synced?.outcome;
      if (outcome === 'amount_mismatch') throw new AppError(422, 'amount_mismatch', 'PortOne reports an amount that does not match the order; the payment was refused and recorded');
    }
    return toDto((await load(em.fork(), jobId))!);
  }

  async function get(jobId: string, token: string | undefined): Promise<JobDto> {
    return toDto(await authorized(em.fork(), jobId, token));
  }

  // The phone the result link goes to: normalised, kept as a keyed hash and sealed, never logged.
  async function registerPhone(jobId: string, token: string | undefined, phone: string): Promise<JobDto> {
    const e164 = deps.normalizePhone(phone, 'phone');
    return inTransaction(em.fork(), async (tx) => {
      await authorized(tx, jobId, token, true);
      return move(tx, jobId, ['pending_phone'], 'pending_upload', { phone_hash: deps.personalData.hash(e164), phone_sealed: deps.personalData.encrypt(e164) });
    });
  }

  // The selfie: checked and cropped to 3:4 in the image worker (the real format from the bytes,
  // JPEG or PNG, ≤ 10 MB, ≥ 512 px, metadata stripped); the original and the crop are stored under
  // random keys; the job moves to processing. A bad file leaves nothing behind.
  async function upload(jobId: string, token: string | undefined, bytes: Buffer, declaredType?: string): Promise<JobDto> {
    const job = await authorized(em.fork(), jobId, token);
    if (job.status !== 'pending_upload') throw new AppError(409, 'invalid_transition', `The job is ${job.status}; it takes a photo only while pending_upload`, { extra: { status: job.status } });
    const original = Buffer.from(bytes);
    const result = await acceptImage(deps.pool, { bytes, aspect: { w: 3, h: 4 }, format: 'jpeg', limits: { maxBytes: MAX_UPLOAD_BYTES, minSide: 512 } });
    if (result.sourceFormat !== 'jpeg' && result.sourceFormat !== 'png') {
      throw new AppError(400, 'unsupported_format', 'The photo must be a JPEG or a PNG', { issues: [{ field: 'file', message: 'must be a JPEG or a PNG' }] });
    }
    // A client that says JPEG and sends a PNG (a renamed file) is refused: what it declared is wrong.
    const declared = declaredType?.split(';')[0].trim().toLowerCase();
    if (declared && declared !== 'application/octet-stream' && declared !== `image/${result.sourceFormat}`) {
      throw new AppError(400, 'format_mismatch', `The body is a ${result.sourceFormat.toUpperCase()} but was sent as ${declared}`, { issues: [{ field: 'file', message: `is a ${result.sourceFormat}, sent as ${declared}` }] });
    }
    const originalKey = newObjectKey(`rizz/jobs/${jobId}`, result.sourceFormat === 'png' ? 'png' : 'jpg');
    const cropKey = newObjectKey(`rizz/jobs/${jobId}`, 'jpg');
    await deps.storage.put(originalKey, original, { contentType: result.sourceFormat === 'png' ? 'image/png' : 'image/jpeg' });
    await deps.storage.put(cropKey, result.image, { contentType: 'image/jpeg' });
    try {
      return await inTransaction(em.fork(), async (tx) => {
        await authorized(tx, jobId, token, true);
        await tx.execute(`insert into rizz_job_files (id, job_id, kind, storage_key, content_type, width, height, bytes) values (?, ?, 'original', ?, ?, ?, ?, ?), (?, ?, 'crop', ?, 'image/jpeg', ?, ?, ?)`, [
          crypto.randomUUID(), jobId, originalKey, result.sourceFormat === 'png' ? 'image/png' : 'image/jpeg', result.sourceWidth, result.sourceHeight, original.byteLength,
          crypto.randomUUID(), jobId, cropKey, result.width, result.height, result.image.byteLength,
        ]);
        return move(tx, jobId, ['pending_upload'], 'processing');
      });
    } catch (err) {
      await Promise.all([deps.storage.delete(originalKey), deps.storage.delete(cropKey)]).catch(() => undefined);
      throw err;
    }
  }

  // The direct upload (a photo sent straight to storage, not through this node): a presigned PUT
  // for a fresh key under the job's `incoming/` prefix, valid 15 minutes, for the content type the
  // client names. The key comes back in POST /jobs/:id/uploaded.
  async function uploadUrl(jobId: string, token: string | undefined, contentType: 'image/jpeg' | 'image/png'): Promise<PresignedRequest & { uploadKey: string; maxBytes: number }> {
    const job = await authorized(em.fork(), jobId, token);
    if (job.status !== 'pending_upload') throw new AppError(409, 'invalid_transition', `The job is ${job.status}; it takes a photo only while pending_upload`, { extra: { status: job.status } });
    const uploadKey = newObjectKey(incomingPrefix(jobId), contentType === 'image/png' ? 'png' : 'jpg');
    const put = await deps.storage.presignPut(uploadKey, { contentType, expiresInSeconds: 900, maxBytes: MAX_UPLOAD_BYTES });
    return { ...put, uploadKey, maxBytes: MAX_UPLOAD_BYTES };
  }

  // The direct upload arrived: the object is checked exactly as a posted photo is (an S3 presigned
  // PUT cannot cap the size, so it is checked here first), and deleted whatever the outcome — the
  // job keeps only its original and crop under keys of its own.
  async function uploaded(jobId: string, token: string | undefined, uploadKey: string): Promise<JobDto> {
    const job = await authorized(em.fork(), jobId, token);
    const ours = new RegExp(`^${incomingPrefix(jobId)}/[0-9a-f-]{36}\\.(jpg|png)$`);
    if (!ours.test(uploadKey)) {
      throw new AppError(400, 'validation_failed', 'uploadKey is not an upload key of this job', { issues: [{ field: 'uploadKey', message: 'must be the uploadKey POST /jobs/:id/upload-url gave' }] });
    }
    if (job.status !== 'pending_upload') throw new AppError(409, 'invalid_transition', `The job is ${job.status}; it takes a photo only while pending_upload`, { extra: { status: job.status } });
    try {
      const info = await deps.storage.stat(uploadKey).catch((err: unknown) => {
        if (err instanceof ObjectNotFoundError) throw new AppError(400, 'upload_missing', 'Nothing was uploaded at uploadKey: PUT the photo to the URL first', { issues: [{ field: 'uploadKey', message: 'holds no upload' }] });
        throw err;
      });
      if (info.size > MAX_UPLOAD_BYTES) throw new AppError(413, 'too_large', `The photo is larger than ${MAX_UPLOAD_BYTES} bytes`, { issues: [{ field: 'file', message: 'larger than 10 MB' }] });
      const object = await deps.storage.get(uploadKey);
      return await upload(jobId, token, object.bytes, object.contentType);
    } finally {
      await deps.storage.delete(uploadKey).catch((err: unknown) => deps.logger.warn({ err, jobId }, 'rizz direct upload not deleted; the 24-hour purge will'));
    }
  }

  // The socket handshake of a job's page: its id and token, as the routes take them.
  async function authorize(jobId: unknown, token: unknown): Promise<JobDto> {
    const id = z.uuid().safeParse(jobId);
    if (!id.success) throw new AppError(400, 'validation_failed', 'auth.jobId must be a job id', { issues: [{ field: 'jobId', message: 'must be a job id' }] });
    return toDto(await authorized(em.fork(), id.data, typeof token === 'string' ? token : undefined));
  }

  return { initialize, paid, completePayment, get, registerPhone, upload, uploadUrl, uploaded, authorize, toDto, moveIn: move };
}

export type JobService = ReturnType<typeof createJobService>;
