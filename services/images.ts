// The one way a service takes a photo from a client: the image worker checks and re-encodes it, and a
// photo it refuses becomes a 4xx naming the field (413 for one over the size limit, 400 otherwise).
import type { ImageInput, ImageResult } from '../workers/image.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { AppError } from './errors.ts';

export type AcceptedImage = Extract<ImageResult, { ok: true }>;

export async function acceptImage(pool: WorkerPool, input: ImageInput, field = 'file'): Promise<AcceptedImage> {
  const result = await pool.processImage(input);
  if (!result.ok) {
    throw new AppError(result.error.code === 'too_large' ? 413 : 400, result.error.code, result.error.message, { issues: [{ field, message: result.error.message }] });
  }
  return result;
}
