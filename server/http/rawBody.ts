// Reads a request body as bytes, refusing more than `maxBytes` with 413 as soon as it is exceeded.
// Webhooks verify signatures over exactly these bytes; uploads store them.
import type { Context } from 'koa';
import { AppError } from '../../services/errors.ts';

export async function readRawBody(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw new AppError(413, 'payload_too_large', `Request body is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new AppError(413, 'payload_too_large', `Request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
