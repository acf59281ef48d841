import { expect } from 'chai';
import { analyseTrack, haversineM } from '../../workers/geo.ts';
import type { TrackAnalysis, TrackPoint, TrackResult } from '../../workers/geo.ts';
import { seededRandom as random } from '../../services/seededRandom.ts';
import { gaussian, M_PER_DEG_LAT, SEOUL, syntheticLine, T0, walk } from '../tracks.ts';

function expectOk(result: TrackResult): TrackAnalysis {
  if (!result.ok) expect.fail(`expected an analysis, got ${JSON.stringify(result.error)}`);
  return result;
}

function expectBadTrack(result: TrackResult, field: string): string {
  if (result.ok) expect.fail(`expected bad_track on ${field}`);
  expect(result.error.code).to.equal('bad_track');
  expect(result.error.field).to.equal(field);
  return result.error.message;
}

describe('workers/geo analyseTrack', () => {
  describe('verdicts', () => {
    it('accepts a realistic 1.2 km walk at 5 km/h with GPS jitter', () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const a = expectOk(analyseTrack({ points: walk({ distanceM: 1200, speedKmh: 5, seed }) }));
        expect(a.verdict, `seed ${seed}`).to.deep.equal({ valid: true, reasons: [] });
        expect(a.distanceM, `seed ${seed}`).to.be.within(1050, 1350);
        expect(a.avgSpeedKmh, `seed ${seed}`).to.be.within(4, 6);
        expect(a.maxSpeedKmh, `seed ${seed}`).to.be.below(10);
        expect(a.fastSegments).to.deep.equal([]);
        expect(a.spoofing).to.include({ regularSteps: false, zeroJitter: false, repeatedFixes: false });
      }
    });

    it('accepts the same walk with fixes every second (where naive per-fix speeds would spike)', () => {
      const a = expectOk(analyseTrack({ points: walk({ distanceM: 1200, speedKmh: 5, intervalS: [1, 1], jitterM: 4, seed: 9 }) }));
      expect(a.verdict.reasons).to.deep.equal([]);
      expect(a.distanceM).to.be.within(1050, 1400);
    });

    it('reports duration, moving time and bounds', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 3 });
      const a = expectOk(analyseTrack({ points }));
      expect(a.pointCount).to.equal(points.length);
      expect(a.durationS).to.equal((points.at(-1)!.t - points[0].t) / 1000);
      expect(a.movingTimeS).to.be.within(0.8 * a.durationS, a.durationS);
      expect(a.bounds.minLat).to.equal(Math.min(...points.map((p) => p.lat)));
      expect(a.bounds.maxLat).to.equal(Math.max(...points.map((p) => p.lat)));
      expect(a.bounds.minLng).to.equal(Math.min(...points.map((p) => p.lng)));
      expect(a.bounds.maxLng).to.equal(Math.max(...points.map((p) => p.lng)));
    });

    it('calls a 300 m walk too_short', () => {
      const a = expectOk(analyseTrack({ points: walk({ distanceM: 300, speedKmh: 5, seed: 7 }) }));
      expect(a.verdict).to.deep.equal({ valid: false, reasons: ['too_short'] });
    });

    it('does not turn a phone lying still for 20 minutes into distance', () => {
      const rand = random(11);
      const points = Array.from({ length: 1200 }, (_, i) => ({
        lat: SEOUL.lat + (gaussian(rand) * 3) / M_PER_DEG_LAT,
        lng: SEOUL.lng + (gaussian(rand) * 3) / M_PER_DEG_LAT,
        t: T0 + i * 1000,
        accuracy: 5 + rand() * 5,
      }));
      const a = expectOk(analyseTrack({ points }));
      expect(a.distanceM).to.be.below(200);
      expect(a.verdict.reasons).to.deep.equal(['too_short']);
    });

    it('calls a bike ride too_fast and lists the fast segments', () => {
      const a = expectOk(analyseTrack({ points: walk({ distanceM: 3000, speedKmh: 20, seed: 5 }) }));
      expect(a.verdict).to.deep.equal({ valid: false, reasons: ['too_fast'] });
      expect(a.avgSpeedKmh).to.be.above(15);
      expect(a.fastShare).to.be.above(0.5);
      expect(a.fastSegmentCount).to.be.at.least(1);
      for (const segment of a.fastSegments) {
        expect(segment.to).to.be.above(segment.from);
        expect(segment.speedKmh).to.be.above(15);
        expect(segment.durationS).to.be.above(0);
      }
    });

    it('calls a walk with a long bike stretch too_fast even when the average stays under the limit', () => {
      const walked = walk({ distanceM: 1500, speedKmh: 5, seed: 21 });
      const ride = walk({ distanceM: 2500, speedKmh: 22, seed: 22 });
      const last = walked.at(-1)!;
      // Continue the ride from where the walk ended.
      const shifted = ride.slice(1).map((p) => ({ ...p, lat: p.lat - SEOUL.lat + last.lat, lng: p.lng - SEOUL.lng + last.lng, t: p.t - T0 + last.t }));
      const a = expectOk(analyseTrack({ points: [...walked, ...shifted] }));
      expect(a.avgSpeedKmh).to.be.below(15);
      expect(a.verdict.reasons).to.deep.equal(['too_fast']);
      expect(a.fastSegments[0].from).to.be.at.least(walked.length - 30);
    });

    it('calls a perfectly regular synthetic line spoofed', () => {
      const a = expectOk(analyseTrack({ points: syntheticLine(300, 6, 5) }));
      expect(a.verdict).to.deep.equal({ valid: false, reasons: ['spoofed'] });
      expect(a.spoofing.regularSteps).to.equal(true);
      expect(a.spoofing.zeroJitter).to.equal(true);
      expect(a.spoofing.stepDistanceCv).to.be.below(0.001);
      expect(a.spoofing.collinearShare).to.equal(1);
    });

    it('calls a noiseless route through waypoints spoofed even with varying pace', () => {
      const rand = random(4);
      const points: TrackPoint[] = [];
      let t = T0;
      let north = 0;
      let east = 0;
      for (let i = 0; i < 400; i++) {
        const step = 3 + rand() * 6; // irregular steps: not "regular", but still on a ruler-straight path
        if (i < 200) north += step;
        else east += step;
        t += 2000 + Math.round(rand() * 3000);
        points.push({ lat: SEOUL.lat + north / M_PER_DEG_LAT, lng: SEOUL.lng + east / (M_PER_DEG_LAT * 0.793), t, accuracy: 10 });
      }
      const a = expectOk(analyseTrack({ points }));
      expect(a.spoofing.regularSteps).to.equal(false);
      expect(a.spoofing.zeroJitter).to.equal(true);
      expect(a.verdict.reasons).to.deep.equal(['spoofed']);
    });

    it('calls a track of mostly repeated identical fixes spoofed', () => {
      const base = walk({ distanceM: 1500, speedKmh: 5, seed: 8 });
      // Every fix is reported three times with advancing timestamps, as a "hold position" mock does.
      const points = base.flatMap((p, i) => [0, 1, 2].map((k) => ({ ...p, t: T0 + (i * 3 + k) * 1000 })));
      const a = expectOk(analyseTrack({ points }));
      expect(a.spoofing.repeatedFixes).to.equal(true);
      expect(a.spoofing.repeatedShare).to.be.above(0.6);
      expect(a.verdict.reasons).to.include('spoofed');
    });

    it('calls a teleport an impossible_jump and leaves its distance out', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 12 });
      const at = 150;
      const teleported = points.map((p, i) => (i >= at ? { ...p, lat: p.lat + 5000 / M_PER_DEG_LAT } : p));
      const a = expectOk(analyseTrack({ points: teleported }));
      expect(a.verdict.reasons).to.deep.equal(['impossible_jump']);
      expect(a.jumpCount).to.equal(1);
      expect(a.jumps[0]).to.include({ from: at - 1, to: at });
      expect(a.jumps[0].distanceM).to.be.within(4900, 5100);
      expect(a.distanceM).to.be.below(1500);
    });

    it('flags 1 km in 5 s, and a jump between fixes with the same timestamp', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 13 });
      const at = 100;
      const jumped = points.map((p, i) => (i >= at ? { ...p, lng: p.lng + 1000 / (M_PER_DEG_LAT * 0.793) } : p));
      jumped[at] = { ...jumped[at], t: jumped[at - 1].t };
      const a = expectOk(analyseTrack({ points: jumped }));
      expect(a.verdict.reasons).to.include('impossible_jump');
      expect(a.jumps[0]).to.include({ from: at - 1, to: at, speedKmh: null });
    });

    it('skips a single glitched fix that jumps away and straight back', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 14 });
      points[80] = { ...points[80], lat: points[80].lat + 2000 / M_PER_DEG_LAT };
      const a = expectOk(analyseTrack({ points }));
      expect(a.glitchCount).to.equal(1);
      expect(a.jumpCount).to.equal(0);
      expect(a.verdict).to.deep.equal({ valid: true, reasons: [] });
      expect(a.bounds.maxLat).to.be.below(points[80].lat);
    });

    it('forgives a jump that the reported accuracy explains', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 15 });
      // A cell-tower fix 400 m off that says it is only good to 500 m, and the walk continues from there.
      const shifted = points.map((p, i) => (i >= 60 ? { ...p, lat: p.lat + 400 / M_PER_DEG_LAT } : p));
      shifted[60] = { ...shifted[60], accuracy: 500 };
      const a = expectOk(analyseTrack({ points: shifted }));
      expect(a.jumpCount).to.equal(0);
    });

    it('applies custom limits', () => {
      const points = walk({ distanceM: 1200, speedKmh: 5, seed: 2 });
      const a = expectOk(analyseTrack({ points, limits: { minDistanceM: 2000, maxSpeedKmh: 3 } }));
      expect(a.verdict.reasons).to.deep.equal(['too_short', 'too_fast']);
    });
  });

  describe('bad input', () => {
    const good = () => walk({ distanceM: 600, speedKmh: 5, seed: 30 });

    it('names the index of an out-of-range latitude', () => {
      const points = good();
      points[12] = { ...points[12], lat: 91 };
      const message = expectBadTrack(analyseTrack({ points }), 'points[12].lat');
      expect(message).to.contain('points[12].lat').and.contain('-90 and 90');
    });

    it('names the index of an out-of-range longitude and of a non-finite number', () => {
      const points = good();
      points[3] = { ...points[3], lng: -180.5 };
      expectBadTrack(analyseTrack({ points }), 'points[3].lng');
      const nan = good();
      nan[7] = { ...nan[7], lat: Number.NaN };
      expectBadTrack(analyseTrack({ points: nan }), 'points[7].lat');
    });

    it('names the first fix that goes back in time', () => {
      const points = good();
      points[5] = { ...points[5], t: points[4].t - 1 };
      points[9] = { ...points[9], t: 0 };
      const message = expectBadTrack(analyseTrack({ points }), 'points[5].t');
      expect(message).to.contain('points[4].t');
    });

    it('accepts equal timestamps', () => {
      const points = good();
      points[5] = { ...points[5], t: points[4].t };
      expectOk(analyseTrack({ points }));
    });

    it('refuses a wrongly typed field, a negative accuracy and a non-object point', () => {
      const points = good() as unknown[];
      points[2] = { lat: SEOUL.lat, lng: SEOUL.lng, t: '2025-05-01' };
      expectBadTrack(analyseTrack({ points: points as TrackPoint[] }), 'points[2].t');
      const negative = good();
      negative[4] = { ...negative[4], accuracy: -1 };
      expectBadTrack(analyseTrack({ points: negative }), 'points[4].accuracy');
      const nullPoint = good() as unknown[];
      nullPoint[1] = null;
      expectBadTrack(analyseTrack({ points: nullPoint as TrackPoint[] }), 'points[1]');
    });

    it('needs at least 2 points and at most maxPoints', () => {
      expectBadTrack(analyseTrack({ points: [{ lat: 0, lng: 0, t: 0 }] }), 'points');
      expectBadTrack(analyseTrack({ points: 'nope' as unknown as TrackPoint[] }), 'points');
      const message = expectBadTrack(analyseTrack({ points: good(), limits: { maxPoints: 10 } }), 'points');
      expect(message).to.contain('at most 10');
      expectBadTrack(analyseTrack({ points: syntheticLine(20_001, 1, 1) }), 'points');
    });
  });

  it('analyses 20,000 points in linear time', () => {
    const points = walk({ distanceM: 30_000, speedKmh: 5, intervalS: [1, 1], seed: 40 }).slice(0, 20_000);
    expect(points).to.have.length(20_000);
    const started = performance.now();
    expectOk(analyseTrack({ points }));
    expect(performance.now() - started).to.be.below(250);
  });

  it('measures great-circle distance', () => {
    // Seoul City Hall to Busan City Hall is about 325 km.
    expect(haversineM({ lat: 37.5665, lng: 126.978 }, { lat: 35.1798, lng: 129.075 }) / 1000).to.be.within(320, 330);
    expect(haversineM({ lat: 0, lng: 0 }, { lat: 0, lng: 1 })).to.be.closeTo(111_195, 5);
  });
});
