import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { p95Exceeds, VersionWindow } from './version-window.js';

describe('VersionWindow', () => {
  it('forgets calls older than the window, bucket by bucket', () => {
    const window = new VersionWindow(1000, 10, undefined);
    window.record(0, 5, false);
    window.record(450, 5, true);
    window.record(950, 5, false);
    expect(window.totals(999)).toMatchObject({ requests: 3, errors: 1 });
    expect(window.totals(1050)).toMatchObject({ requests: 2, errors: 1 });
    expect(window.totals(1450)).toMatchObject({ requests: 1, errors: 0 });
    expect(window.totals(5000)).toMatchObject({ requests: 0, errors: 0 });
    expect(window.snapshot(5000, undefined, true)).toEqual({
      requests: 0,
      errors: 0,
      errorRate: 0,
      shadowCompared: 0,
      disagreementRate: 0,
    });
  });

  it('reports the nearest-rank p95 and the period totals since the last take', () => {
    const window = new VersionWindow(1000, 4, 50);
    for (let i = 1; i <= 100; i++) window.record(10, i, false);
    expect(window.p95(10)).toBe(95);
    window.compare(10, true);
    window.compare(10, false);
    expect(window.snapshot(10, 0.2, true)).toMatchObject({
      requests: 100,
      p95Ms: 95,
      driftScore: 0.2,
      shadowCompared: 2,
      disagreementRate: 0.5,
    });
    expect(window.takePeriod()).toEqual({ requests: 100, errors: 0, slow: 50, compared: 2, disagreed: 1 });
    expect(window.takePeriod()).toEqual({ requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0 });
  });

  it('checks the p95 limit exactly by counting slow calls (agrees with the sorted nearest-rank p95)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 200 }),
        (latencies, limit) => {
          const window = new VersionWindow(1000, 1, limit, 10_000);
          for (const latency of latencies) window.record(0, latency, false);
          const p95 = window.p95(0) as number;
          expect(p95Exceeds(window.totals(0))).toBe(p95 > limit);
        },
      ),
      { numRuns: 300 },
    );
  });
});
