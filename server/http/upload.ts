// The file of an upload route, whichever way the client sent it: the bytes as the body with their
// own Content-Type, or a multipart/form-data form with the file in one field (what browsers' FormData
// and most mobile HTTP clients send). The form is parsed from the raw body (bounded by the route's
// rawBody.maxBytes) with the runtime's own parser, so there is no second upload path to keep safe.
import type { Context } from 'koa';
import { AppError } from '../../services/errors.ts';

export type UploadedFile = { bytes: Buffer; contentType: string | undefined };

export async function uploadedFile(ctx: Context, rawBody: Buffer, field = 'file'): Promise<UploadedFile> {
  const contentType = ctx.get('content-type') || undefined;
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return { bytes: rawBody, contentType };
  const refuse = (message: string) => new AppError(400, 'validation_failed', message, { issues: [{ field, message }] });
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength), { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw refuse('The multipart/form-data body could not be read');
  }
  const files = form.getAll(field).filter((v): v is File => typeof v !== 'string');
  if (files.length === 0) throw refuse(`The form has no file in "${field}"`);
  if (files.length > 1) throw refuse(`The form has ${files.length} files in "${field}"; send one`);
  const [file] = files;
  return { bytes: Buffer.from(await file.arrayBuffer()), contentType: file.type || undefined };
}
