// Upload photo pipeline: validate → auto-orient → crop → strip metadata → encode + thumbnail.
// Both a Piscina task file (`processImageTask`) and a plain module (`processImage`), so services can
// run it through the pool and tests can call it directly. Client-caused failures come back as a
// result value, not a throw, because Piscina clones errors across threads and drops custom fields.
import sharp from 'sharp';
import type { OutputInfo, Sharp } from 'sharp';
import { move, transferableSymbol, valueSymbol } from 'piscina';

export type ImageFormat = 'jpeg' | 'webp';
export type SourceFormat = 'jpeg' | 'png' | 'webp';
export type CropBox = { left: number; top: number; width: number; height: number };

export type ImageLimits = {
  /** Largest accepted upload, in bytes. Default 10 MiB. */
  maxBytes: number;
  /** Smallest accepted shorter side, in pixels, for the image and for a client crop box. Default 512. */
  minSide: number;
  /** Largest accepted width × height, checked from the header before any decoding. Default 40 MP. */
  maxPixels: number;
};

export type ImageInput = {
  bytes: Uint8Array;
  /** Output aspect ratio (width:height). Default 3:4. */
  aspect?: { w: number; h: number };
  /** Client crop box in pixels of the auto-oriented image. Default: the largest centred box of `aspect`. */
  crop?: CropBox;
  format?: ImageFormat;
  quality?: number;
  thumbnailWidth?: number;
  limits?: Partial<ImageLimits>;
};

export type ImageErrorCode =
  | 'unsupported_format'
  | 'too_large'
  | 'too_small'
  | 'too_many_pixels'
  | 'bad_crop'
  | 'corrupt_image';

export type ImageError = { code: ImageErrorCode; message: string; field: 'file' | 'crop' };

export type ImageSuccess = {
  ok: true;
  image: Uint8Array;
  thumbnail: Uint8Array;
  format: ImageFormat;
  width: number;
  height: number;
  thumbnailWidth: number;
  thumbnailHeight: number;
  sourceFormat: SourceFormat;
  /** Source size after EXIF auto-orientation, i.e. the frame the client's crop box refers to. */
  sourceWidth: number;
  sourceHeight: number;
};

export type ImageResult = ImageSuccess | { ok: false; error: ImageError };

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = {
  maxBytes: 10 * 1024 * 1024,
  minSide: 512,
  maxPixels: 40_000_000,
};

const DEFAULT_ASPECT = { w: 3, h: 4 };
const DEFAULT_QUALITY: Record<ImageFormat, number> = { jpeg: 82, webp: 80 };
const DEFAULT_THUMBNAIL_WIDTH = 256;
// A client computes its box from a scaled preview, so its ratio is off by rounding; anything
// further off than this is a different shape and is refused rather than silently re-cut.
const CROP_ASPECT_TOLERANCE = 0.02;

class ImageRejection extends Error {
  readonly detail: ImageError;
  constructor(detail: ImageError) {
    super(detail.message);
    this.detail = detail;
  }
}

function reject(code: ImageErrorCode, message: string, field: 'file' | 'crop' = 'file'): never {
  throw new ImageRejection({ code, message, field });
}

export async function processImage(input: ImageInput): Promise<ImageResult> {
  try {
    return await runPipeline(input);
  } catch (err) {
    if (err instanceof ImageRejection) return { ok: false, error: err.detail };
    throw err;
  }
}

/** Piscina entry point: same result, but the encoded bytes are moved to the caller, not cloned. */
export async function processImageTask(input: ImageInput): Promise<ImageResult> {
  const result = await processImage(input);
  return result.ok ? moveResult(result) : result;
}

async function runPipeline(input: ImageInput): Promise<ImageSuccess> {
  const limits = { ...DEFAULT_IMAGE_LIMITS, ...input.limits };
  const bytes = input.bytes;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (bytes.byteLength === 0) reject('unsupported_format', 'The file is empty.');
  if (bytes.byteLength > limits.maxBytes) {
    const size = bytes.byteLength.toLocaleString('en-US');
    reject('too_large', `The file is ${size} bytes; the limit is ${formatSize(limits.maxBytes)}.`);
  }
  const sourceFormat = sniffFormat(bytes);
  const source = await readHeader(bytes, sourceFormat, limits);
  const box = chooseBox(source, input.aspect ?? DEFAULT_ASPECT, input.crop, limits.minSide);
  const format = input.format ?? 'jpeg';
  const image = await encode(bytes, box, format, input.quality ?? DEFAULT_QUALITY[format], limits.maxPixels);
  const thumbnail = await makeThumbnail(image, format, input.thumbnailWidth ?? DEFAULT_THUMBNAIL_WIDTH);
  return {
    ok: true,
    image,
    thumbnail: thumbnail.data,
    format,
    width: box.width,
    height: box.height,
    thumbnailWidth: thumbnail.info.width,
    thumbnailHeight: thumbnail.info.height,
    sourceFormat,
    sourceWidth: source.width,
    sourceHeight: source.height,
  };
}

/** Decides from the magic bytes alone: the file name and the client's MIME type are never trusted. */
export function sniffFormat(bytes: Uint8Array): SourceFormat {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes.subarray(8), ascii('WEBP'))) return 'webp';
  return reject('unsupported_format', 'The file is not a JPEG, PNG or WebP image.');
}

type SourceInfo = { width: number; height: number; format: SourceFormat };

/** Reads only the header, so the pixel limit is enforced before a single pixel is decoded. */
async function readHeader(bytes: Uint8Array, sniffed: SourceFormat, limits: ImageLimits): Promise<SourceInfo> {
  const meta = await decoding(sharp(bytes, { limitInputPixels: limits.maxPixels }).metadata(), limits.maxPixels);
  if (meta.format !== sniffed || !meta.width || !meta.height) {
    reject('corrupt_image', `The file starts like a ${sniffed.toUpperCase()} image but could not be read as one.`);
  }
  if (meta.width * meta.height > limits.maxPixels) tooManyPixels(limits.maxPixels);
  const { width, height } = meta.autoOrient;
  if (Math.min(width, height) < limits.minSide) {
    reject('too_small', `The image is ${width}×${height} px; its shorter side must be at least ${limits.minSide} px.`);
  }
  return { width, height, format: sniffed };
}

function tooManyPixels(maxPixels: number): never {
  return reject('too_many_pixels', `The image has more than ${maxPixels.toLocaleString('en-US')} pixels.`);
}

function chooseBox(source: SourceInfo, aspect: { w: number; h: number }, crop: CropBox | undefined, minSide: number): CropBox {
  if (!(aspect.w > 0 && aspect.h > 0 && Number.isFinite(aspect.w / aspect.h))) {
    throw new RangeError(`aspect must be two positive numbers, got ${aspect.w}:${aspect.h}`);
  }
  const ratio = aspect.w / aspect.h;
  if (!crop) return centredBox({ left: 0, top: 0, width: source.width, height: source.height }, ratio);
  checkCrop(crop, source, ratio, minSide);
  return centredBox(crop, ratio);
}

function checkCrop(crop: CropBox, source: SourceInfo, ratio: number, minSide: number): void {
  const { left, top, width, height } = crop;
  if (![left, top, width, height].every(Number.isInteger)) {
    reject('bad_crop', 'The crop box must be whole pixels: left, top, width and height are integers.', 'crop');
  }
  if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > source.width || top + height > source.height) {
    reject('bad_crop', `The crop box ${width}×${height} at (${left}, ${top}) is not inside the ${source.width}×${source.height} image.`, 'crop');
  }
  if (Math.min(width, height) < minSide) {
    reject('bad_crop', `The crop box is ${width}×${height} px; its shorter side must be at least ${minSide} px.`, 'crop');
  }
  if (Math.abs(width / height / ratio - 1) > CROP_ASPECT_TOLERANCE) {
    reject('bad_crop', `The crop box is ${width}×${height} px, which is not the required ${describeRatio(ratio)} shape.`, 'crop');
  }
}

/** The largest box of the exact ratio inside `outer`, centred, in whole pixels. */
export function centredBox(outer: CropBox, ratio: number): CropBox {
  const width = Math.min(outer.width, Math.round(outer.height * ratio));
  const height = Math.min(outer.height, Math.round(width / ratio));
  return {
    left: outer.left + Math.floor((outer.width - width) / 2),
    top: outer.top + Math.floor((outer.height - height) / 2),
    width,
    height,
  };
}

async function encode(bytes: Uint8Array, box: CropBox, format: ImageFormat, quality: number, maxPixels: number): Promise<Buffer> {
  // `autoOrient` in the constructor orients before `extract`, so the box is in the oriented frame
  // the client saw. Without keepExif/keepIccProfile/withMetadata sharp writes no EXIF (GPS), XMP,
  // IPTC or ICC, and converts to sRGB.
  const pipeline = sharp(bytes, { autoOrient: true, limitInputPixels: maxPixels }).extract(box);
  return decoding(withEncoder(pipeline, format, quality).toBuffer(), maxPixels);
}

function withEncoder(pipeline: Sharp, format: ImageFormat, quality: number): Sharp {
  if (format === 'webp') return pipeline.webp({ quality });
  // JPEG has no alpha; without flattening, transparent PNG areas would turn black.
  return pipeline.flatten({ background: '#ffffff' }).jpeg({ quality });
}

async function makeThumbnail(image: Buffer, format: ImageFormat, width: number): Promise<{ data: Buffer; info: OutputInfo }> {
  if (!(Number.isInteger(width) && width > 0)) throw new RangeError(`thumbnailWidth must be a positive integer, got ${width}`);
  // Made from the already cropped output: JPEG/WebP shrink-on-load makes this far cheaper than
  // decoding the full-size source again.
  const pipeline = sharp(image).resize({ width, withoutEnlargement: true });
  return withEncoder(pipeline, format, DEFAULT_QUALITY[format]).toBuffer({ resolveWithObject: true });
}

function moveResult(result: ImageSuccess): ImageResult {
  // sharp's output buffers live in native memory, which postMessage cannot transfer, so the copy
  // into plain ArrayBuffers happens here on the worker instead of on the main thread's clone.
  const value: ImageSuccess = { ...result, image: new Uint8Array(result.image), thumbnail: new Uint8Array(result.thumbnail) };
  const movable = {
    get [transferableSymbol]() {
      return [value.image.buffer, value.thumbnail.buffer];
    },
    get [valueSymbol]() {
      return value;
    },
  };
  // Piscina unwraps the movable on the way out, so the caller receives `value` itself.
  return move(movable as never) as unknown as ImageResult;
}

/**
 * Awaits a sharp promise that reads the upload. Our own arguments were checked synchronously when
 * the pipeline was built, so a rejection here means the client's bytes could not be decoded.
 */
async function decoding<T>(work: Promise<T>, maxPixels: number): Promise<T> {
  try {
    return await work;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/exceeds pixel limit/i.test(message)) tooManyPixels(maxPixels);
    if (/premature end|truncated|unexpected end/i.test(message)) reject('corrupt_image', 'The image file is truncated.');
    return reject('corrupt_image', 'The image data is damaged and could not be decoded.');
  }
}

function startsWith(bytes: Uint8Array, prefix: ArrayLike<number>): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function formatSize(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes.toLocaleString('en-US')} bytes`;
}

function describeRatio(ratio: number): string {
  for (let h = 1; h <= 20; h++) {
    const w = ratio * h;
    if (Math.abs(w - Math.round(w)) < 1e-9) return `${Math.round(w)}:${h}`;
  }
  return `${ratio.toFixed(3)}:1`;
}
