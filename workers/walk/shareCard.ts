// A walk's share card, drawn in the worker pool (the walk module declares this task; it runs on the
// platform's one pool, in the threads that already hold sharp): the route others may see projected
// into a box, start and end markers, distance, duration and date, and the pet's photo in a circle —
// an SVG composited over a plain background, encoded as PNG.
//
// Text is digits and Latin only ("3.2 km", "42 min", "2026-11-27"): librsvg draws it with the
// system's fonts through fontconfig, and the machines (and the Docker image) have DejaVu but no
// Korean font, so Hangul would come out as boxes.
import sharp from 'sharp';
import type { OverlayOptions } from 'sharp';
import { move, transferableSymbol, valueSymbol } from 'piscina';

// Bumped whenever the drawing changes, so every stored card is drawn again (it is part of the hash).
export const SHARE_CARD_LAYOUT = 1;
export const SHARE_CARD_SIZE = 1080;

export const SHARE_CARD_COLOURS = {
  background: '#f6f1e7',
  panel: '#ffffff',
  route: '#ff5a36',
  start: '#2eaa6b',
  end: '#1f2a44',
  text: '#1f2a44',
  muted: '#5b6478',
} as const;

// Where the route is drawn, and where the pet's photo sits (pixels of the 1080×1080 card).
export const ROUTE_BOX = { left: 120, top: 120, width: 840, height: 540 } as const;
export const PHOTO_CIRCLE = { cx: 890, cy: 880, r: 110 } as const;
const MARKER_RADIUS = 18;
const ROUTE_WIDTH = 12;

export type ShareCardInput = {
  /** What others see of the route: [lng, lat] pairs, already cut at the owner's home zones (may be empty). */
  route: [number, number][];
  distanceM: number;
  durationS: number;
  /** The walk's calendar date in the service's zone, YYYY-MM-DD. */
  localDate: string;
  /** The pet's stored photo (square WebP/JPEG/PNG); the card is drawn without it when absent or unreadable. */
  petPhoto?: Uint8Array;
};

export type ShareCardResult = { image: Uint8Array; width: number; height: number; contentType: 'image/png'; photoDrawn: boolean };

/**
 * Equirectangular projection into `box`: longitudes are scaled by cos(mid-latitude) so a street runs
 * at its true angle, both axes share one scale (the shape keeps its aspect) and the route is centred.
 * North is up. A route with no extent (one point, or all at one place) sits in the middle.
 */
export function projectRoute(route: [number, number][], box: { left: number; top: number; width: number; height: number }): [number, number][] {
  if (!route.length) return [];
  let [minLat, maxLat, minLng, maxLng] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [lng, lat] of route) {
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat); minLng = Math.min(minLng, lng); maxLng = Math.max(maxLng, lng);
  }
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = (maxLng - minLng) * k;
  const spanY = maxLat - minLat;
  const scale = spanX > 0 || spanY > 0 ? Math.min(spanX > 0 ? box.width / spanX : Infinity, spanY > 0 ? box.height / spanY : Infinity) : 0;
  const offsetX = box.left + (box.width - spanX * scale) / 2;
  const offsetY = box.top + (box.height - spanY * scale) / 2;
  return route.map(([lng, lat]) => [offsetX + (lng - minLng) * k * scale, offsetY + (maxLat - lat) * scale]);
}

export function formatDistance(distanceM: number): string {
  return `${(Math.max(0, distanceM) / 1000).toFixed(1)} km`;
}

export function formatDuration(durationS: number): string {
  const minutes = Math.max(0, Math.round(durationS / 60));
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

// The card's text is ours (numbers, a date), but escaped anyway: it is XML.
const xml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const px = (n: number) => Math.round(n * 10) / 10;

function overlaySvg(input: ShareCardInput, hasPhoto: boolean): string {
  const c = SHARE_CARD_COLOURS;
  const points = projectRoute(input.route, ROUTE_BOX);
  const route = points.length >= 2
    ? `<polyline points="${points.map(([x, y]) => `${px(x)},${px(y)}`).join(' ')}" fill="none" stroke="${c.route}" stroke-width="${ROUTE_WIDTH}" stroke-linecap="round" stroke-linejoin="round"/>`
    : '';
  const marker = (p: [number, number] | undefined, fill: string) => (p ? `<circle cx="${px(p[0])}" cy="${px(p[1])}" r="${MARKER_RADIUS}" fill="${fill}" stroke="#ffffff" stroke-width="6"/>` : '');
  // End first, so a loop that comes back to where it began still shows where it started.
  const markers = points.length ? marker(points[points.length - 1], c.end) + marker(points[0], c.start) : '';
  const ring = hasPhoto ? `<circle cx="${PHOTO_CIRCLE.cx}" cy="${PHOTO_CIRCLE.cy}" r="${PHOTO_CIRCLE.r + 4}" fill="none" stroke="#ffffff" stroke-width="10"/>` : '';
  const font = `font-family="DejaVu Sans, Verdana, sans-serif"`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SHARE_CARD_SIZE}" height="${SHARE_CARD_SIZE}">
<rect x="60" y="60" width="960" height="660" rx="40" fill="${c.panel}"/>
${route}${markers}
<text x="80" y="860" ${font} font-size="112" font-weight="bold" fill="${c.text}">${xml(formatDistance(input.distanceM))}</text>
<text x="84" y="940" ${font} font-size="48" fill="${c.muted}">${xml(`${formatDuration(input.durationS)} · ${input.localDate}`)}</text>
<text x="84" y="1012" ${font} font-size="32" font-weight="bold" fill="${c.muted}">withbowwow</text>
${ring}
</svg>`;
}

// The pet's photo cut to a circle: resized to the circle's box, then kept only under a disc.
async function circlePhoto(bytes: Uint8Array): Promise<Buffer | null> {
  const d = PHOTO_CIRCLE.r * 2;
  const disc = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${d}" height="${d}"><circle cx="${PHOTO_CIRCLE.r}" cy="${PHOTO_CIRCLE.r}" r="${PHOTO_CIRCLE.r}" fill="#fff"/></svg>`);
  try {
    return await sharp(bytes, { limitInputPixels: 40_000_000 }).resize(d, d, { fit: 'cover' }).ensureAlpha()
      .composite([{ input: disc, blend: 'dest-in' }]).png().toBuffer();
  } catch {
    // A stored photo went through the image worker when it was uploaded; if it cannot be read now,
    // a card without it beats no card.
    return null;
  }
}

export async function renderShareCard(input: ShareCardInput): Promise<ShareCardResult> {
  const photo = input.petPhoto?.byteLength ? await circlePhoto(input.petPhoto) : null;
  const layers: OverlayOptions[] = [{ input: Buffer.from(overlaySvg(input, photo !== null)), left: 0, top: 0 }];
  if (photo) layers.push({ input: photo, left: PHOTO_CIRCLE.cx - PHOTO_CIRCLE.r, top: PHOTO_CIRCLE.cy - PHOTO_CIRCLE.r });
  const image = await sharp({ create: { width: SHARE_CARD_SIZE, height: SHARE_CARD_SIZE, channels: 3, background: SHARE_CARD_COLOURS.background } })
    .composite(layers).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
  return { image, width: SHARE_CARD_SIZE, height: SHARE_CARD_SIZE, contentType: 'image/png', photoDrawn: photo !== null };
}

/** Piscina entry point: the PNG's bytes are moved to the caller, not cloned. */
export async function renderShareCardTask(input: ShareCardInput): Promise<ShareCardResult> {
  const result = await renderShareCard(input);
  // sharp's buffers live in native memory, which postMessage cannot transfer: copy once, here.
  const value: ShareCardResult = { ...result, image: new Uint8Array(result.image) };
  const movable = {
    get [transferableSymbol]() {
      return [value.image.buffer];
    },
    get [valueSymbol]() {
      return value;
    },
  };
  return move(movable as never) as unknown as ShareCardResult;
}
