// OFFLINE image driver, for development only (production refuses offline drivers): nothing leaves the
// machine. Each seed gives a deterministic sharp variant of the upload — a crop, a hue turn, a
// saturation and brightness change and a tint, all drawn from the seed — encoded as PNG at the
// crop's size. The same image, prompt and seed always give the same bytes; every result says
// provider: 'offline', offline: true, and its id starts with `offline-`. sharp does its work on
// libuv's thread pool, so the event loop is not held while it runs.
import crypto from 'node:crypto';
import sharp from 'sharp';
import type { Logger } from 'pino';
import { ProviderCallError } from '../http.ts';
import type { ImageGenerator } from './index.ts';
import { seededRandom } from '../../services/seededRandom.ts';

const seeded = seededRandom;

export function createOfflineImages(deps: { logger?: Logger } = {}): ImageGenerator {
  return {
    provider: 'offline',
    offline: true,
    generate: async ({ prompt, image, seed, signal }) => {
      signal?.throwIfAborted();
      const rand = seeded(seed);
      const meta = await sharp(image)
        .metadata()
        .catch((err: unknown) => {
          throw new ProviderCallError('offline-images', 'invalid_input', 'input image could not be decoded', { retryable: false, cause: err });
        });
      const width = meta.autoOrient?.width ?? meta.width;
      const height = meta.autoOrient?.height ?? meta.height;
      // Keep 80–95 % of each side, placed anywhere inside the picture.
      const keep = 0.8 + 0.15 * rand();
      const w = Math.max(1, Math.round(width * keep));
      const h = Math.max(1, Math.round(height * keep));
      const left = Math.floor((width - w) * rand());
      const top = Math.floor((height - h) * rand());
      const hue = Math.floor(360 * rand());
      const saturation = 0.6 + rand();
      const brightness = 0.85 + 0.3 * rand();
      const tint = { r: Math.floor(128 + 127 * rand()), g: Math.floor(128 + 127 * rand()), b: Math.floor(128 + 127 * rand()) };
      const out = await sharp(image)
        .rotate()
        .extract({ left, top, width: w, height: h })
        .modulate({ hue, saturation, brightness })
        .tint(tint)
        .png({ compressionLevel: 9, adaptiveFiltering: false })
        .toBuffer();
      const predictionId = `offline-${crypto.createHash('sha256').update(image).update(`\0${prompt}\0${seed}`).digest('hex').slice(0, 24)}`;
      deps.logger?.info({ driver: 'offline', predictionId, seed }, 'OFFLINE image driver: a sharp variant of the upload, no model was run');
      return { images: [new Uint8Array(out.buffer, out.byteOffset, out.byteLength)], contentTypes: ['image/png'], predictionId, provider: 'offline', offline: true };
    },
    forget: async (predictionId) => ({ predictionId, outcome: 'none' }),
  };
}
