import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { centredBox, processImage } from '../../workers/image.ts';
import type { ImageResult, ImageSuccess } from '../../workers/image.ts';

const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

/** 1200×900 as stored; the left half red, the right half blue; EXIF says "rotate 90° clockwise". */
async function rotatedPhotoWithGps(): Promise<Buffer> {
  const half = await sharp({ create: { width: 600, height: 900, channels: 3, background: BLUE } }).png().toBuffer();
  return sharp({ create: { width: 1200, height: 900, channels: 3, background: RED } })
    .composite([{ input: half, left: 600, top: 0 }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'TestPhone', Copyright: 'someone' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '37/1 33/1 59/1', GPSLongitudeRef: 'E', GPSLongitude: '126/1 58/1 40/1' },
    })
    .toBuffer();
}

function solid(width: number, height: number, format: 'png' | 'webp' | 'gif' | 'jpeg'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 200 } } }).toFormat(format).toBuffer();
}

/** A real, valid 1-bit PNG of `w`×`h` black pixels: tiny on disk, `w*h` pixels when decoded. */
function pngBomb(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.alloc((Math.ceil(w / 8) + 1) * h);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(rows, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

async function pixel(image: Uint8Array, x: number, y: number): Promise<{ r: number; g: number; b: number }> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return { r: data[i], g: data[i + 1], b: data[i + 2] };
}

function expectColour(actual: { r: number; g: number; b: number }, expected: { r: number; g: number; b: number }): void {
  // JPEG is lossy; a few levels of drift are fine, a swapped colour is not.
  expect(Math.abs(actual.r - expected.r), `red of ${JSON.stringify(actual)}`).to.be.below(20);
  expect(Math.abs(actual.g - expected.g), `green of ${JSON.stringify(actual)}`).to.be.below(20);
  expect(Math.abs(actual.b - expected.b), `blue of ${JSON.stringify(actual)}`).to.be.below(20);
}

function expectOk(result: ImageResult): ImageSuccess {
  if (!result.ok) expect.fail(`expected success, got ${JSON.stringify(result.error)}`);
  return result;
}

function expectError(result: ImageResult, code: string, field = 'file'): string {
  if (result.ok) expect.fail(`expected ${code}, got a ${result.width}×${result.height} image`);
  expect(result.error.code).to.equal(code);
  expect(result.error.field).to.equal(field);
  expect(result.error.message).to.be.a('string').and.not.be.empty;
  return result.error.message;
}

describe('workers/image processImage', () => {
  describe('a phone JPEG with EXIF orientation 6 and GPS', () => {
    let photo: Buffer;
    before(async () => {
      photo = await rotatedPhotoWithGps();
      const meta = await sharp(photo).metadata();
      // Guard the fixture itself: the test is only meaningful if the input really carries these.
      expect(meta.orientation).to.equal(6);
      expect(meta.exif).to.be.instanceOf(Buffer);
      expect(meta.exif!.includes(Buffer.from([0x25, 0x88])), 'GPS IFD pointer (tag 0x8825, little-endian)').to.equal(true);
      expect(meta.icc).to.be.instanceOf(Buffer);
    });

    it('is oriented upright, cropped to 3:4 and stripped of EXIF, GPS and ICC', async () => {
      const result = expectOk(await processImage({ bytes: photo }));
      expect([result.sourceWidth, result.sourceHeight]).to.deep.equal([900, 1200]); // width/height swapped
      expect([result.width, result.height]).to.deep.equal([900, 1200]);
      expect(result.width / result.height).to.equal(3 / 4);
      expect(result.sourceFormat).to.equal('jpeg');
      expect(result.format).to.equal('jpeg');

      const meta = await sharp(result.image).metadata();
      expect(meta.format).to.equal('jpeg');
      expect([meta.width, meta.height]).to.deep.equal([900, 1200]);
      expect(meta.exif).to.equal(undefined);
      expect(meta.orientation).to.equal(undefined);
      expect(meta.icc).to.equal(undefined);
      expect(meta.xmp).to.equal(undefined);
      expect(Buffer.from(result.image).includes('Exif\0\0')).to.equal(false);
      expect(Buffer.from(result.image).includes('TestPhone')).to.equal(false);

      // Rotating 90° clockwise puts the stored left (red) half on top.
      expectColour(await pixel(result.image, 450, 100), RED);
      expectColour(await pixel(result.image, 450, 1100), BLUE);
    });

    it('makes a thumbnail of the requested width with the same ratio and no metadata', async () => {
      const result = expectOk(await processImage({ bytes: photo, thumbnailWidth: 300 }));
      expect([result.thumbnailWidth, result.thumbnailHeight]).to.deep.equal([300, 400]);
      const meta = await sharp(result.thumbnail).metadata();
      expect([meta.width, meta.height]).to.deep.equal([300, 400]);
      expect(meta.exif).to.equal(undefined);
    });

    it('defaults the thumbnail to 256 px wide', async () => {
      const result = expectOk(await processImage({ bytes: photo }));
      expect(result.thumbnailWidth).to.equal(256);
      expect(result.thumbnailHeight).to.equal(341);
      expect((await sharp(result.thumbnail).metadata()).width).to.equal(256);
    });

    it('crops to a client box given in the upright frame', async () => {
      const result = expectOk(await processImage({ bytes: photo, crop: { left: 0, top: 0, width: 600, height: 800 } }));
      expect([result.width, result.height]).to.deep.equal([600, 800]);
      // Rows 0–599 of the upright image are red, 600–1199 blue.
      expectColour(await pixel(result.image, 300, 50), RED);
      expectColour(await pixel(result.image, 300, 750), BLUE);
    });

    it('encodes WebP on request', async () => {
      const result = expectOk(await processImage({ bytes: photo, format: 'webp', quality: 70 }));
      expect(result.format).to.equal('webp');
      const meta = await sharp(result.image).metadata();
      expect(meta.format).to.equal('webp');
      expect(meta.exif).to.equal(undefined);
      expect((await sharp(result.thumbnail).metadata()).format).to.equal('webp');
    });
  });

  it('crops a landscape PNG to the centred 3:4 box', async () => {
    const result = expectOk(await processImage({ bytes: await solid(1000, 800, 'png') }));
    expect(result.sourceFormat).to.equal('png');
    expect([result.width, result.height]).to.deep.equal([600, 800]);
  });

  it('honours another aspect ratio', async () => {
    const result = expectOk(await processImage({ bytes: await solid(1000, 800, 'png'), aspect: { w: 1, h: 1 } }));
    expect([result.width, result.height]).to.deep.equal([800, 800]);
  });

  it('accepts WebP input', async () => {
    const result = expectOk(await processImage({ bytes: await solid(900, 1200, 'webp') }));
    expect(result.sourceFormat).to.equal('webp');
    expect([result.width, result.height]).to.deep.equal([900, 1200]);
  });

  it('flattens transparency onto white for JPEG output', async () => {
    const png = await sharp({ create: { width: 600, height: 800, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const result = expectOk(await processImage({ bytes: png }));
    expectColour(await pixel(result.image, 300, 400), { r: 255, g: 255, b: 255 });
  });

  it('judges by content: PNG bytes saved as photo.jpg are read as PNG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'image-test-'));
    try {
      const path = join(dir, 'photo.jpg');
      await writeFile(path, await solid(600, 800, 'png'));
      const result = expectOk(await processImage({ bytes: await readFile(path) }));
      expect(result.sourceFormat).to.equal('png');
      expect(result.format).to.equal('jpeg');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a GIF', async () => {
    expectError(await processImage({ bytes: await solid(600, 800, 'gif') }), 'unsupported_format');
  });

  it('refuses random bytes and an empty file', async () => {
    expectError(await processImage({ bytes: randomBytes(4096) }), 'unsupported_format');
    expectError(await processImage({ bytes: new Uint8Array(0) }), 'unsupported_format');
  });

  it('refuses a file over 10 MiB before looking inside', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1);
    big.set([0xff, 0xd8, 0xff, 0xe0]);
    const message = expectError(await processImage({ bytes: big }), 'too_large');
    expect(message).to.contain('10 MiB');
  });

  it('refuses a 400×400 image as too small, and allows it with a lower limit', async () => {
    const square = await solid(400, 400, 'jpeg');
    const message = expectError(await processImage({ bytes: square }), 'too_small');
    expect(message).to.contain('400×400').and.contain('512');
    const result = expectOk(await processImage({ bytes: square, limits: { minSide: 256 } }));
    expect([result.width, result.height]).to.deep.equal([300, 400]);
  });

  it('refuses a 20000×20000 PNG bomb from its header, without decoding it', async () => {
    const bomb = pngBomb(20_000, 20_000);
    expect(bomb.length).to.be.below(100_000);
    const started = performance.now();
    const message = expectError(await processImage({ bytes: bomb }), 'too_many_pixels');
    // Decoding 400 MP would take seconds and ~400 MB; reading the header takes milliseconds.
    expect(performance.now() - started).to.be.below(1000);
    expect(message).to.contain('40,000,000');
  });

  it('refuses an image over a custom pixel limit', async () => {
    expectError(await processImage({ bytes: await solid(1200, 900, 'jpeg'), limits: { maxPixels: 1_000_000 } }), 'too_many_pixels');
  });

  it('reports a truncated JPEG as corrupt', async () => {
    const jpeg = await sharp({ create: { width: 900, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    expectError(await processImage({ bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)) }), 'corrupt_image');
  });

  it('reports bytes that only start like a JPEG as corrupt', async () => {
    const fake = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(5000)]);
    expectError(await processImage({ bytes: fake }), 'corrupt_image');
  });

  describe('client crop boxes', () => {
    let photo: Buffer;
    before(async () => {
      photo = await rotatedPhotoWithGps(); // upright frame is 900×1200
    });

    it('refuses a box reaching outside the upright image', async () => {
      // Inside the stored 1200×900 frame, but not the upright 900×1200 one.
      const message = expectError(await processImage({ bytes: photo, crop: { left: 600, top: 0, width: 600, height: 800 } }), 'bad_crop', 'crop');
      expect(message).to.contain('900×1200');
    });

    it('refuses negative and non-integer boxes', async () => {
      expectError(await processImage({ bytes: photo, crop: { left: -1, top: 0, width: 600, height: 800 } }), 'bad_crop', 'crop');
      expectError(await processImage({ bytes: photo, crop: { left: 0.5, top: 0, width: 600, height: 800 } }), 'bad_crop', 'crop');
    });

    it('refuses a box of the wrong shape', async () => {
      const message = expectError(await processImage({ bytes: photo, crop: { left: 0, top: 0, width: 800, height: 800 } }), 'bad_crop', 'crop');
      expect(message).to.contain('3:4');
    });

    it('refuses a box smaller than the minimum side', async () => {
      expectError(await processImage({ bytes: photo, crop: { left: 0, top: 0, width: 300, height: 400 } }), 'bad_crop', 'crop');
    });

    it('trims a box that is off by rounding to the exact ratio', async () => {
      const result = expectOk(await processImage({ bytes: photo, crop: { left: 10, top: 10, width: 601, height: 800 } }));
      expect([result.width, result.height]).to.deep.equal([600, 800]);
    });
  });

  describe('centredBox', () => {
    it('keeps the full height of a wide frame and the full width of a tall one', () => {
      expect(centredBox({ left: 0, top: 0, width: 4000, height: 3000 }, 3 / 4)).to.deep.equal({ left: 875, top: 0, width: 2250, height: 3000 });
      expect(centredBox({ left: 0, top: 0, width: 900, height: 2000 }, 3 / 4)).to.deep.equal({ left: 0, top: 400, width: 900, height: 1200 });
    });
  });
});
