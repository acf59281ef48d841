// Find My Rizz jobs at the seed's paths: POST /payments/initialize (a job and its order), then with
// the job's token (X-Job-Token): POST /payments/complete, GET /jobs/:id, POST /jobs/:id/phone, and the
// selfie by POST /jobs/:id/upload or a presigned PUT (POST /jobs/:id/upload-url, then /uploaded).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { uploadedFile } from '../../server/http/upload.ts';
import { orderDto } from '../../services/billing/schemas.ts';
import { jobDto, MAX_UPLOAD_BYTES, type JobService } from '../../services/rizz/jobs.ts';
import { receiptDto, type DeletionService } from '../../services/rizz/deletion.ts';
import { resultDto, surveyInput, type ResultService } from '../../services/rizz/results.ts';

const idParams = z.object({ id: z.uuid() });
// Room for a form's boundaries and part headers around a 10 MB photo; the photo itself is held to 10 MB.
const FORM_OVERHEAD_BYTES = 64 * 1024;
const uploadUrlDto = z
  .object({ url: z.string(), method: z.literal('PUT'), headers: z.record(z.string(), z.string()), expiresAt: z.string(), uploadKey: z.string(), maxBytes: z.number().int() })
  .meta({ id: 'RizzUploadUrl' });
const jobToken = (ctx: { get: (h: string) => string }) => ctx.get('x-job-token') || undefined;

export function rizzJobRoutes(api: Api, deps: { jobs: JobService; deletion: DeletionService; results: ResultService }): void {
  api.route({
    method: 'post', path: '/payments/initialize', summary: 'Start a job: its 9,900 KRW order and the job token that authorises this client (returned once)', tags: ['rizz'], auth: 'none',
    responses: { 201: { description: 'The job, its token and the order to pay', schema: z.object({ job: jobDto, jobToken: z.string(), order: orderDto }) } },
    handler: async () => ({ status: 201, body: await deps.jobs.initialize() }),
  });
  api.route({
    method: 'get', path: '/jobs/:id', summary: 'A job\'s state (X-Job-Token)', tags: ['rizz'], auth: 'none', params: idParams,
    responses: { 200: { description: 'The job', schema: jobDto }, 401: { description: 'Missing or wrong job token' }, 410: { description: 'The job has been deleted (24 h)' } },
    handler: async ({ params, ctx }) => ({ body: await deps.jobs.get(params.id, jobToken(ctx)) }),
  });
  api.route({
    method: 'post', path: '/jobs/:id/phone', summary: 'Register the phone the result link goes to (E.164 or Korean mobile formats); pending_phone → pending_upload', tags: ['rizz'], auth: 'none',
    params: idParams, body: z.object({ phone: z.string().trim().min(8).max(32).meta({ example: '010-1234-5678' }) }),
    responses: { 200: { description: 'The job', schema: jobDto }, 409: { description: 'invalid_transition: not pending_phone' } },
    handler: async ({ params, body, ctx }) => ({ body: await deps.jobs.registerPhone(params.id, jobToken(ctx), body.phone) }),
  });
  api.route({
    method: 'post', path: '/payments/complete', summary: "The client's call after the payment window closed (X-Job-Token): the order is checked with PortOne, and the job moves once, whether this or the webhook comes first", tags: ['rizz'],
    auth: 'none', body: z.object({ jobId: z.uuid() }),
    responses: { 200: { description: 'The job: pending_phone when paid, still pending_payment when PortOne has no payment yet', schema: jobDto }, 401: { description: 'Missing or wrong job token' } },
    handler: async ({ body, ctx }) => ({ body: await deps.jobs.completePayment(body.jobId, jobToken(ctx)) }),
  });
  api.route({
    method: 'post', path: '/jobs/:id/upload', summary: 'Upload the selfie (JPEG or PNG, ≤ 10 MB, ≥ 512 px) as the body or as the `file` field of a form: checked, cropped to 3:4, stored; pending_upload → processing', tags: ['rizz'],
    auth: 'none', params: idParams, rawBody: { maxBytes: MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES, contentType: ['image/jpeg', 'image/png', 'multipart/form-data'] },
    responses: { 200: { description: 'The job', schema: jobDto }, 400: { description: 'Not a photo we take, naming `file`' }, 409: { description: 'invalid_transition' }, 413: { description: 'Larger than 10 MB' } },
    handler: async ({ params, rawBody, ctx }) => {
      const file = await uploadedFile(ctx, rawBody!);
      return { body: await deps.jobs.upload(params.id, jobToken(ctx), file.bytes, file.contentType) };
    },
  });
  api.route({
    method: 'post', path: '/jobs/:id/upload-url', summary: 'A presigned PUT for sending the selfie straight to storage (15 minutes, the content type named here); then POST /jobs/:id/uploaded', tags: ['rizz'],
    auth: 'none', params: idParams, body: z.object({ contentType: z.enum(['image/jpeg', 'image/png']) }),
    responses: { 200: { description: 'PUT the photo to `url` with `headers`; send `uploadKey` to /uploaded', schema: uploadUrlDto }, 409: { description: 'invalid_transition' } },
    handler: async ({ params, body, ctx }) => {
      const put = await deps.jobs.uploadUrl(params.id, jobToken(ctx), body.contentType);
      return { body: { ...put, expiresAt: put.expiresAt.toISOString() } };
    },
  });
  api.route({
    method: 'post', path: '/jobs/:id/uploaded', summary: 'The direct upload is done: the photo is checked and cropped as an uploaded one is, then its upload object deleted; pending_upload → processing', tags: ['rizz'],
    auth: 'none', params: idParams, body: z.object({ uploadKey: z.string().min(1).max(200) }),
    responses: { 200: { description: 'The job', schema: jobDto }, 400: { description: 'Not a photo we take (`file`), or no upload at `uploadKey`' }, 409: { description: 'invalid_transition' }, 413: { description: 'Larger than 10 MB' } },
    handler: async ({ params, body, ctx }) => ({ body: await deps.jobs.uploaded(params.id, jobToken(ctx), body.uploadKey) }),
  });
  api.route({
    method: 'get', path: '/results/:jobId/receipt', summary: 'What the 24-hour deletion removed for a job, and when (no personal data)', tags: ['rizz'], auth: 'none',
    params: z.object({ jobId: z.uuid() }),
    responses: { 200: { description: 'The receipt', schema: receiptDto }, 404: { description: 'No deletion of this job (yet)' } },
    handler: async ({ params }) => ({ body: await deps.deletion.receipt(params.jobId) }),
  });
  const jobIdParams = z.object({ jobId: z.uuid() });
  const resultToken = (ctx: { get: (h: string) => string }) => ctx.get('x-result-token') || undefined;
  api.route({
    method: 'post', path: '/results/:jobId/verify', summary: "Prove the result is yours with the job's phone number: a result token for 30 minutes; 3 wrong numbers block this client from the job for an hour",
    tags: ['rizz'], auth: 'none', params: jobIdParams, body: z.object({ phone: z.string().trim().min(8).max(32).meta({ example: '010-1234-5678' }) }),
    responses: {
      200: { description: 'The result token (send it as X-Result-Token)', schema: z.object({ resultToken: z.string(), expiresAt: z.string() }) },
      401: { description: 'phone_mismatch, with the tries left' },
      429: { description: 'verification_blocked: unblockAt says when' },
      410: { description: 'The job has been deleted (24 h)' },
    },
    handler: async ({ params, body, ctx }) => ({ body: await deps.results.verify(params.jobId, ctx.ip, body.phone) }),
  });
  api.route({
    method: 'get', path: '/results/:jobId', summary: 'The result (X-Result-Token): the portraits and the original as URLs valid an hour, the report, recommendations, and the time left', tags: ['rizz'],
    auth: 'none', params: jobIdParams,
    responses: { 200: { description: 'The result', schema: resultDto }, 401: { description: 'Verify the phone first' }, 410: { description: 'Deleted (24 h)' } },
    handler: async ({ params, ctx }) => ({ body: await deps.results.result(params.jobId, resultToken(ctx)) }),
  });
  api.route({
    method: 'post', path: '/results/:jobId/survey', summary: 'The satisfaction survey, once per job (X-Result-Token)', tags: ['rizz'], auth: 'none', params: jobIdParams, body: surveyInput,
    responses: { 204: { description: 'Stored' }, 409: { description: 'survey_answered' } },
    handler: async ({ params, body, ctx }) => deps.results.survey(params.jobId, resultToken(ctx), body),
  });
}
