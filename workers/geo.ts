// Walk track checks: distance, duration, speed, teleports and spoofing patterns, in O(n).
// Both a Piscina task file and a plain module. Bad input comes back as a result value rather than
// a throw, because Piscina clones errors across threads and drops custom fields.
//
// Thresholds, and why:
// - Distance is measured along a smoothed path, not fix to fix: summing raw fixes turns GPS jitter
//   into distance (a phone lying still at 1 Hz with 3 m noise "walks" ~10 km/h). Positions are
//   smoothed exponentially with time constant SMOOTHING_S (so sparse fixes are smoothed less than
//   dense ones), and the distance grows only once the smoothed position has moved DISTANCE_FILTER_M,
//   or the fix's reported accuracy if larger (capped at MAX_FILTER_M), from the last counted one.
//   This cuts a few metres per street corner (about 3-4 % at walking pace), the safe side.
// - Speed is judged over consecutive windows of at least SPEED_WINDOW_S, never fix to fix, for the
//   same reason: per-fix speeds of a 5 km/h walk spike past 15 km/h on noise alone.
// - A step is an impossible jump when, after subtracting both fixes' reported accuracy radii, it
//   covers more than JUMP_MIN_M at more than JUMP_SPEED_KMH (so 1 km in < 10 s, i.e. 360 km/h,
//   is one). A single fix that jumps away and straight back is a GPS glitch and is skipped instead:
//   it gains the walker nothing, and real receivers produce them.
// - Spoofing signs need SPOOF_MIN_STEPS steps, so short tracks are never called spoofed.
//   Perfectly regular steps: step length and interval both vary by less than REGULAR_CV (as a
//   coefficient of variation). Zero jitter: at least COLLINEAR_SHARE of fix triples lie within
//   COLLINEAR_TOLERANCE_M of a straight line AND accuracy never changes (or is never reported).
//   Repeated fixes: at least REPEATED_SHARE of steps report exactly the previous position.
// - too_fast: average speed over the whole walk above the limit, or more than FAST_SHARE of the
//   moving time (windows slower than MOVING_KMH are stops) above the limit.

export type TrackPoint = { lat: number; lng: number; /** epoch ms */ t: number; accuracy?: number };
export type TrackLimits = { maxPoints: number; minDistanceM: number; maxSpeedKmh: number };
// `packed` is the same fixes as one Float64Array (packTrack), which the pool transfers to the worker
// instead of cloning thousands of objects. `routeToleranceM` asks for the simplified route as well.
export type TrackInput = { points?: TrackPoint[]; packed?: Float64Array; limits?: Partial<TrackLimits>; routeToleranceM?: number };

export type TrackReason = 'too_short' | 'too_fast' | 'spoofed' | 'impossible_jump';
export type Bounds = { minLat: number; maxLat: number; minLng: number; maxLng: number };
export type FastSegment = { from: number; to: number; speedKmh: number; durationS: number };
/** `speedKmh` is null when both fixes carry the same timestamp (infinite speed). */
export type Jump = { from: number; to: number; distanceM: number; speedKmh: number | null };
export type SpoofingSigns = {
  regularSteps: boolean;
  zeroJitter: boolean;
  repeatedFixes: boolean;
  stepDistanceCv: number | null;
  intervalCv: number | null;
  collinearShare: number | null;
  repeatedShare: number;
  constantAccuracy: boolean;
};

export type TrackAnalysis = {
  ok: true;
  pointCount: number;
  distanceM: number;
  durationS: number;
  movingTimeS: number;
  avgSpeedKmh: number;
  maxSpeedKmh: number;
  /** Share of the moving time spent above the speed limit, 0..1. */
  fastShare: number;
  bounds: Bounds;
  /** At most MAX_LISTED entries each; the counts are complete. */
  fastSegments: FastSegment[];
  fastSegmentCount: number;
  jumps: Jump[];
  jumpCount: number;
  glitchCount: number;
  spoofing: SpoofingSigns;
  verdict: { valid: boolean; reasons: TrackReason[] };
  /** The track simplified to within routeToleranceM (Douglas–Peucker), as [lng, lat] pairs, when asked. */
  route?: [number, number][];
};

export type TrackError = { code: 'bad_track'; message: string; field: string };
export type TrackResult = TrackAnalysis | { ok: false; error: TrackError };

export const DEFAULT_TRACK_LIMITS: Readonly<TrackLimits> = { maxPoints: 20_000, minDistanceM: 500, maxSpeedKmh: 15 };

const EARTH_RADIUS_M = 6_371_008.8;
const SMOOTHING_S = 10;
const DISTANCE_FILTER_M = 8;
const MAX_FILTER_M = 50;
const SPEED_WINDOW_S = 30;
const MOVING_KMH = 1;
const FAST_SHARE = 0.2;
const JUMP_MIN_M = 100;
const JUMP_SPEED_KMH = 150;
const SPOOF_MIN_STEPS = 20;
const REGULAR_CV = 0.02;
const COLLINEAR_TOLERANCE_M = 0.25;
const COLLINEAR_MIN_LEG_M = 1;
const COLLINEAR_SHARE = 0.9;
const REPEATED_SHARE = 0.5;
const MAX_LISTED = 100;

export function analyseTrack(input: TrackInput): TrackResult {
  const limits = { ...DEFAULT_TRACK_LIMITS, ...input?.limits };
  const points = input?.packed instanceof Float64Array ? unpackTrack(input.packed) : input?.points;
  const error = validatePoints(points, limits.maxPoints);
  if (error) return { ok: false, error };
  const analysis = analyse(points as TrackPoint[], limits);
  if (input.routeToleranceM !== undefined) analysis.route = simplifyRoute(points as TrackPoint[], input.routeToleranceM);
  return analysis;
}

// Four numbers per fix: lat, lng, t, accuracy. What validation must still see survives packing: a
// value that is not a number becomes NaN (refused as not finite, naming the fix), a missing accuracy
// is -1 and a given one that is not a non-negative number is NaN. A fix that is not an object has NaN
// coordinates.
const PACKED_FIELDS = 4;
const NO_ACCURACY = -1;
export function packTrack(points: unknown[]): Float64Array {
  const packed = new Float64Array(points.length * PACKED_FIELDS);
  const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as Record<string, unknown> | null;
    const o = i * PACKED_FIELDS;
    if (typeof p !== 'object' || p === null) {
      packed.fill(Number.NaN, o, o + PACKED_FIELDS);
      continue;
    }
    packed[o] = num(p.lat);
    packed[o + 1] = num(p.lng);
    packed[o + 2] = num(p.t);
    packed[o + 3] = p.accuracy === undefined ? NO_ACCURACY : typeof p.accuracy === 'number' && p.accuracy >= 0 ? p.accuracy : Number.NaN;
  }
  return packed;
}

function unpackTrack(packed: Float64Array): TrackPoint[] {
  const points: TrackPoint[] = new Array(Math.floor(packed.length / PACKED_FIELDS));
  for (let i = 0; i < points.length; i++) {
    const o = i * PACKED_FIELDS;
    const accuracy = packed[o + 3];
    points[i] = accuracy === NO_ACCURACY ? { lat: packed[o], lng: packed[o + 1], t: packed[o + 2] } : { lat: packed[o], lng: packed[o + 1], t: packed[o + 2], accuracy };
  }
  return points;
}

// Douglas–Peucker on a local flat projection: the route keeps the track's shape within `toleranceM`
// with a fraction of its fixes (within GPS noise, it drops the jitter, not the streets).
export function simplifyRoute(points: TrackPoint[], toleranceM: number): [number, number][] {
  const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
  if (points.length <= 2) return points.map((p) => [round6(p.lng), round6(p.lat)]);
  const lat0 = toRad(points[0].lat);
  const xs = new Float64Array(points.length);
  const ys = new Float64Array(points.length);
  for (let i = 0; i < points.length; i++) {
    xs[i] = toRad(points[i].lng) * Math.cos(lat0) * EARTH_RADIUS_M;
    ys[i] = toRad(points[i].lat) * EARTH_RADIUS_M;
  }
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack: [number, number][] = [[0, points.length - 1]];
  while (stack.length) {
    const [from, to] = stack.pop()!;
    const dx = xs[to] - xs[from];
    const dy = ys[to] - ys[from];
    const len2 = dx * dx + dy * dy;
    let worst = -1;
    let worstD2 = toleranceM * toleranceM; // squared distances: no square root per fix
    for (let i = from + 1; i < to; i++) {
      const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((xs[i] - xs[from]) * dx + (ys[i] - ys[from]) * dy) / len2));
      const ex = xs[i] - (xs[from] + t * dx);
      const ey = ys[i] - (ys[from] + t * dy);
      const d2 = ex * ex + ey * ey;
      if (d2 > worstD2) {
        worstD2 = d2;
        worst = i;
      }
    }
    if (worst > 0) {
      keep[worst] = 1;
      stack.push([from, worst], [worst, to]);
    }
  }
  const route: [number, number][] = [];
  for (let i = 0; i < points.length; i++) if (keep[i]) route.push([round6(points[i].lng), round6(points[i].lat)]);
  return route;
}

function validatePoints(points: unknown, maxPoints: number): TrackError | null {
  if (!Array.isArray(points)) return badTrack('points', 'points must be an array of GPS fixes.');
  if (points.length < 2) return badTrack('points', `A track needs at least 2 points; got ${points.length}.`);
  if (points.length > maxPoints) {
    return badTrack('points', `A track may have at most ${maxPoints.toLocaleString('en-US')} points; got ${points.length.toLocaleString('en-US')}.`);
  }
  for (let i = 0; i < points.length; i++) {
    const error = validatePoint(points[i], i, i > 0 ? points[i - 1].t : -Infinity);
    if (error) return error;
  }
  return null;
}

function validatePoint(p: unknown, i: number, previousT: number): TrackError | null {
  if (typeof p !== 'object' || p === null) return badTrack(`points[${i}]`, `points[${i}] must be an object with lat, lng and t.`);
  const { lat, lng, t, accuracy } = p as Record<string, unknown>;
  for (const [key, value] of [['lat', lat], ['lng', lng], ['t', t]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return badTrack(`points[${i}].${key}`, `points[${i}].${key} must be a finite number.`);
  }
  if (Math.abs(lat as number) > 90) return badTrack(`points[${i}].lat`, `points[${i}].lat must be between -90 and 90; got ${lat}.`);
  if (Math.abs(lng as number) > 180) return badTrack(`points[${i}].lng`, `points[${i}].lng must be between -180 and 180; got ${lng}.`);
  if (accuracy !== undefined && !(typeof accuracy === 'number' && Number.isFinite(accuracy) && accuracy >= 0)) {
    return badTrack(`points[${i}].accuracy`, `points[${i}].accuracy must be a non-negative number of metres.`);
  }
  if ((t as number) < previousT) {
    return badTrack(`points[${i}].t`, `points[${i}].t is earlier than points[${i - 1}].t; fixes must be in time order.`);
  }
  return null;
}

function badTrack(field: string, message: string): TrackError {
  return { code: 'bad_track', message, field };
}

function analyse(points: TrackPoint[], limits: TrackLimits): TrackAnalysis {
  const path = measurePath(points);
  const speed = classifySpeed(path.windows, limits.maxSpeedKmh);
  const spoofing = detectSpoofing(points);
  const durationS = (points[points.length - 1].t - points[0].t) / 1000;
  const avgSpeedKmh = durationS > 0 ? (path.distanceM / durationS) * 3.6 : 0;
  const fastShare = speed.movingTimeS > 0 ? speed.fastTimeS / speed.movingTimeS : 0;
  const reasons: TrackReason[] = [];
  if (path.distanceM < limits.minDistanceM) reasons.push('too_short');
  if (avgSpeedKmh > limits.maxSpeedKmh || fastShare > FAST_SHARE) reasons.push('too_fast');
  if (spoofing.regularSteps || spoofing.zeroJitter || spoofing.repeatedFixes) reasons.push('spoofed');
  if (path.jumps.length > 0) reasons.push('impossible_jump');
  return {
    ok: true,
    pointCount: points.length,
    distanceM: round(path.distanceM, 1),
    durationS: round(durationS, 3),
    movingTimeS: round(speed.movingTimeS, 3),
    avgSpeedKmh: round(avgSpeedKmh, 2),
    maxSpeedKmh: round(speed.maxSpeedKmh, 2),
    fastShare: round(fastShare, 4),
    bounds: path.bounds,
    fastSegments: speed.segments.slice(0, MAX_LISTED),
    fastSegmentCount: speed.segments.length,
    jumps: path.jumps.slice(0, MAX_LISTED),
    jumpCount: path.jumps.length,
    glitchCount: path.glitchCount,
    spoofing,
    verdict: { valid: reasons.length === 0, reasons },
  };
}

// ---- distance, jumps and speed windows ----

/** A stretch of the track spanning at least SPEED_WINDOW_S (the last one may be shorter if it is the only one). */
type Window = { from: number; to: number; distanceM: number; durationS: number };

type Path = { distanceM: number; bounds: Bounds; jumps: Jump[]; glitchCount: number; windows: Window[] };

function measurePath(points: TrackPoint[]): Path {
  const bounds = { minLat: points[0].lat, maxLat: points[0].lat, minLng: points[0].lng, maxLng: points[0].lng };
  const jumps: Jump[] = [];
  const windows: Window[] = [];
  let glitchCount = 0;
  let distanceM = 0;
  let last = 0; // last accepted fix
  let smoothed = { lat: points[0].lat, lng: points[0].lng };
  let counted = smoothed; // the smoothed position up to which distance has been counted
  let windowStart = 0;
  let windowStartDistance = 0;
  for (let i = 1; i < points.length; i++) {
    const jump = jumpBetween(points, last, i);
    if (jump && isGlitch(points, last, i)) {
      glitchCount++;
      continue;
    }
    if (jump) {
      jumps.push(jump);
      smoothed = counted = { lat: points[i].lat, lng: points[i].lng }; // a teleport is not walked distance
    } else {
      smoothed = smoothTowards(smoothed, points[i], points[i].t - points[last].t);
      const moved = haversineM(counted, smoothed);
      if (moved >= filterM(points[i])) {
        distanceM += moved;
        counted = smoothed;
      }
    }
    last = i;
    extendBounds(bounds, points[i]);
    if (points[i].t - points[windowStart].t >= SPEED_WINDOW_S * 1000) {
      windows.push(makeWindow(points, windowStart, i, distanceM - windowStartDistance));
      windowStart = i;
      windowStartDistance = distanceM;
    }
  }
  // The smoothed path lags behind the walker; the last stretch is counted to the final fix itself.
  distanceM += haversineM(counted, points[last]);
  closeWindows(windows, points, windowStart, last, distanceM - windowStartDistance);
  return { distanceM, bounds, jumps, glitchCount, windows };
}

function filterM(p: TrackPoint): number {
  return Math.max(DISTANCE_FILTER_M, Math.min(p.accuracy ?? 0, MAX_FILTER_M));
}

function smoothTowards(smoothed: { lat: number; lng: number }, p: TrackPoint, elapsedMs: number): { lat: number; lng: number } {
  const alpha = 1 - Math.exp(-elapsedMs / 1000 / SMOOTHING_S);
  return { lat: smoothed.lat + alpha * (p.lat - smoothed.lat), lng: smoothed.lng + alpha * (p.lng - smoothed.lng) };
}

/** The leftover tail joins the previous window, so no window is shorter than SPEED_WINDOW_S unless it is the only one. */
function closeWindows(windows: Window[], points: TrackPoint[], from: number, to: number, distanceM: number): void {
  if (from === to) return;
  const previous = windows.at(-1);
  if (!previous) {
    windows.push(makeWindow(points, from, to, distanceM));
    return;
  }
  mergeInto(previous, makeWindow(points, from, to, distanceM));
}

function makeWindow(points: TrackPoint[], from: number, to: number, distanceM: number): Window {
  return { from, to, distanceM, durationS: (points[to].t - points[from].t) / 1000 };
}

function jumpBetween(points: TrackPoint[], from: number, to: number): Jump | null {
  const a = points[from];
  const b = points[to];
  const distanceM = haversineM(a, b);
  const unexplainedM = distanceM - (a.accuracy ?? 0) - (b.accuracy ?? 0);
  if (unexplainedM <= JUMP_MIN_M) return null;
  const seconds = (b.t - a.t) / 1000;
  const speedKmh = seconds > 0 ? (unexplainedM / seconds) * 3.6 : Infinity;
  if (speedKmh <= JUMP_SPEED_KMH) return null;
  return { from, to, distanceM: round(distanceM, 1), speedKmh: Number.isFinite(speedKmh) ? round(speedKmh, 1) : null };
}

/** Fix `i` jumped away from `last`, and the next fix jumps back to where `last` could have walked. */
function isGlitch(points: TrackPoint[], last: number, i: number): boolean {
  const next = i + 1;
  if (next >= points.length) return false;
  return jumpBetween(points, i, next) !== null && jumpBetween(points, last, next) === null;
}

function extendBounds(bounds: Bounds, p: TrackPoint): void {
  if (p.lat < bounds.minLat) bounds.minLat = p.lat;
  if (p.lat > bounds.maxLat) bounds.maxLat = p.lat;
  if (p.lng < bounds.minLng) bounds.minLng = p.lng;
  if (p.lng > bounds.maxLng) bounds.maxLng = p.lng;
}

type SpeedSummary = { movingTimeS: number; fastTimeS: number; maxSpeedKmh: number; segments: FastSegment[] };

function classifySpeed(windows: Window[], limitKmh: number): SpeedSummary {
  let movingTimeS = 0;
  let fastTimeS = 0;
  let maxSpeedKmh = 0;
  const fast: Window[] = []; // consecutive fast windows merged into one stretch
  let previousWasFast = false;
  for (const w of windows) {
    const kmh = speedKmh(w);
    maxSpeedKmh = Math.max(maxSpeedKmh, kmh);
    if (kmh >= MOVING_KMH) movingTimeS += w.durationS;
    const isFast = kmh > limitKmh;
    if (isFast) {
      fastTimeS += w.durationS;
      if (previousWasFast) mergeInto(fast[fast.length - 1], w);
      else fast.push({ ...w });
    }
    previousWasFast = isFast;
  }
  return { movingTimeS, fastTimeS, maxSpeedKmh, segments: fast.map(toSegment) };
}

function mergeInto(target: Window, next: Window): void {
  target.to = next.to;
  target.distanceM += next.distanceM;
  target.durationS += next.durationS;
}

function toSegment(w: Window): FastSegment {
  return { from: w.from, to: w.to, speedKmh: round(speedKmh(w), 2), durationS: round(w.durationS, 3) };
}

function speedKmh(w: Window): number {
  return w.durationS > 0 ? (w.distanceM / w.durationS) * 3.6 : 0;
}

// ---- spoofing ----

type RunningStats = { n: number; mean: number; m2: number };

/** Welford's online variance: one pass, no array of steps. */
function addSample(s: RunningStats, x: number): void {
  s.n++;
  const delta = x - s.mean;
  s.mean += delta / s.n;
  s.m2 += delta * (x - s.mean);
}

function coefficientOfVariation(s: RunningStats): number | null {
  if (s.n < 2 || s.mean <= 0) return null;
  return Math.sqrt(s.m2 / (s.n - 1)) / s.mean;
}

function detectSpoofing(points: TrackPoint[]): SpoofingSigns {
  const steps: RunningStats = { n: 0, mean: 0, m2: 0 };
  const intervals: RunningStats = { n: 0, mean: 0, m2: 0 };
  let repeated = 0;
  let triples = 0;
  let collinear = 0;
  let constantAccuracy = true;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (b.accuracy !== points[0].accuracy) constantAccuracy = false;
    if (a.lat === b.lat && a.lng === b.lng) {
      repeated++;
      continue;
    }
    addSample(steps, haversineM(a, b));
    addSample(intervals, b.t - a.t);
    const deviation = i >= 2 ? crossTrackDeviationM(points[i - 2], a, b) : null;
    if (deviation === null) continue;
    triples++;
    if (deviation < COLLINEAR_TOLERANCE_M) collinear++;
  }
  return spoofingSigns(steps, intervals, { repeated, triples, collinear, constantAccuracy, stepCount: points.length - 1 });
}

type SpoofCounts = { repeated: number; triples: number; collinear: number; constantAccuracy: boolean; stepCount: number };

function spoofingSigns(steps: RunningStats, intervals: RunningStats, c: SpoofCounts): SpoofingSigns {
  const stepDistanceCv = coefficientOfVariation(steps);
  const intervalCv = coefficientOfVariation(intervals);
  const collinearShare = c.triples > 0 ? c.collinear / c.triples : null;
  const repeatedShare = c.stepCount > 0 ? c.repeated / c.stepCount : 0;
  const regularSteps = steps.n >= SPOOF_MIN_STEPS && stepDistanceCv !== null && intervalCv !== null
    && stepDistanceCv < REGULAR_CV && intervalCv < REGULAR_CV;
  const zeroJitter = c.triples >= SPOOF_MIN_STEPS && collinearShare !== null && collinearShare >= COLLINEAR_SHARE && c.constantAccuracy;
  const repeatedFixes = c.stepCount >= SPOOF_MIN_STEPS && repeatedShare >= REPEATED_SHARE;
  return {
    regularSteps,
    zeroJitter,
    repeatedFixes,
    stepDistanceCv: stepDistanceCv === null ? null : round(stepDistanceCv, 4),
    intervalCv: intervalCv === null ? null : round(intervalCv, 4),
    collinearShare: collinearShare === null ? null : round(collinearShare, 4),
    repeatedShare: round(repeatedShare, 4),
    constantAccuracy: c.constantAccuracy,
  };
}

/**
 * How far `b` lies from the straight line a→c, in metres, on a local flat projection (fine at
 * step scale). Null when a leg is too short for rounding of the coordinates not to dominate.
 */
function crossTrackDeviationM(a: TrackPoint, b: TrackPoint, c: TrackPoint): number | null {
  const metresPerDegLat = (Math.PI / 180) * EARTH_RADIUS_M;
  const metresPerDegLng = metresPerDegLat * Math.cos(toRad(b.lat));
  const abx = (b.lng - a.lng) * metresPerDegLng;
  const aby = (b.lat - a.lat) * metresPerDegLat;
  const acx = (c.lng - a.lng) * metresPerDegLng;
  const acy = (c.lat - a.lat) * metresPerDegLat;
  const bcLength = Math.hypot(acx - abx, acy - aby);
  const abLength = Math.hypot(abx, aby);
  if (abLength < COLLINEAR_MIN_LEG_M || bcLength < COLLINEAR_MIN_LEG_M) return null;
  return Math.abs(abx * acy - aby * acx) / Math.hypot(acx, acy);
}

// ---- geometry ----

export function haversineM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const dLat = toRad(b.lat - a.lat);
  const dLng = toRad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

function toRad(deg: number): number {
  return (deg * Math.PI) / 180;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
