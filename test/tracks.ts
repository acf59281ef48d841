// GPS tracks for tests and benchmarks: a walker wandering through streets (varying pace and fix
// interval, turns, GPS noise) and what a naive spoofing app emits (equal steps on a straight line).
import { seededRandom } from '../services/seededRandom.ts';
import type { TrackPoint } from '../workers/geo.ts';

export const SEOUL = { lat: 37.5665, lng: 126.978 };
export const T0 = Date.UTC(2025, 4, 1, 9, 0, 0);
export const M_PER_DEG_LAT = 111_320;

export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export type WalkOptions = {
  distanceM: number;
  speedKmh: number;
  jitterM?: number;
  seed?: number;
  intervalS?: [number, number];
  start?: { lat: number; lng: number };
  t0?: number;
};

/** A walker wandering through streets: varying pace and fix interval, a turn now and then, GPS noise. */
export function walk({ distanceM, speedKmh, jitterM = 3, seed = 1, intervalS = [1, 5], start = SEOUL, t0 = T0 }: WalkOptions): TrackPoint[] {
  const rand = seededRandom(seed);
  const points: TrackPoint[] = [];
  let x = 0;
  let y = 0;
  let t = t0;
  let heading = rand() * 2 * Math.PI;
  let travelled = 0;
  let sinceTurn = 0;
  const fix = (): TrackPoint => ({
    lat: start.lat + (y + gaussian(rand) * jitterM) / M_PER_DEG_LAT,
    lng: start.lng + (x + gaussian(rand) * jitterM) / (M_PER_DEG_LAT * Math.cos((start.lat * Math.PI) / 180)),
    t,
    accuracy: Math.round((3 + rand() * 9) * 10) / 10,
  });
  points.push(fix());
  while (travelled < distanceM) {
    const dt = intervalS[0] + rand() * (intervalS[1] - intervalS[0]);
    const step = (speedKmh / 3.6) * (0.85 + 0.3 * rand()) * dt;
    heading += gaussian(rand) * 0.05;
    if (sinceTurn > 150 && rand() < 0.1) {
      heading += (rand() < 0.5 ? -1 : 1) * (Math.PI / 2);
      sinceTurn = 0;
    }
    x += step * Math.sin(heading);
    y += step * Math.cos(heading);
    travelled += step;
    sinceTurn += step;
    t += Math.round(dt * 1000);
    points.push(fix());
  }
  return points;
}

/** What a naive spoofing app emits: equal steps at equal intervals along a straight line, one accuracy value. */
export function syntheticLine(count: number, stepM: number, intervalS: number, start = SEOUL, t0 = T0): TrackPoint[] {
  return Array.from({ length: count }, (_, i) => ({
    lat: start.lat + (i * stepM) / M_PER_DEG_LAT,
    lng: start.lng,
    t: t0 + i * intervalS * 1000,
    accuracy: 5,
  }));
}
