import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { SlidingWindow } from './sliding-window.js';

const CALLS = 0;
const FAILURES = 1;

describe('SlidingWindow', () => {
  it('forgets entries older than the window, bucket by bucket', () => {
    const window = new SlidingWindow({ windowMs: 1000, buckets: 10, counters: 2 });
    window.add(CALLS, 0);
    window.add(CALLS, 450);
    window.add(FAILURES, 450);
    window.add(CALLS, 950);
    expect([window.sum(CALLS, 999), window.sum(FAILURES, 999)]).toEqual([3, 1]);
    expect([window.sum(CALLS, 1050), window.sum(FAILURES, 1050)]).toEqual([2, 1]);
    expect([window.sum(CALLS, 1450), window.sum(FAILURES, 1450)]).toEqual([1, 0]);
    expect([window.sum(CALLS, 5000), window.sum(FAILURES, 5000)]).toEqual([0, 0]);
  });

  it('resets a reused bucket, keeps counters apart, adds n at once, and clears', () => {
    const window = new SlidingWindow({ windowMs: 100, buckets: 4, counters: 3 });
    window.add(2, 10, 5);
    window.add(0, 10);
    // 110 lands in the same slot as 10, one lap later: the old counts are gone.
    window.add(0, 110);
    expect([window.sum(0, 110), window.sum(1, 110), window.sum(2, 110)]).toEqual([1, 0, 0]);
    window.add(1, 130, 2);
    expect([window.sum(0, 130), window.sum(1, 130), window.sum(2, 130)]).toEqual([1, 2, 0]);
    window.clear();
    expect(window.sum(0, 130) + window.sum(1, 130)).toBe(0);
  });

  it('works on a clock that reads negative times', () => {
    const window = new SlidingWindow({ windowMs: 100, buckets: 10 });
    window.add(0, -55);
    window.add(0, -5);
    expect(window.sum(0, -1)).toBe(2);
    expect(window.sum(0, 50)).toBe(1);
  });

  it('reports the nearest-rank quantile of the kept values, and forgets them with their bucket', () => {
    const window = new SlidingWindow({ windowMs: 1000, buckets: 4, samples: 4000 });
    for (let i = 1; i <= 100; i++) window.observe(10, i);
    expect(window.quantile(0.95, 10)).toBe(95);
    expect(window.quantile(0.5, 10)).toBe(50);
    expect(window.quantile(1, 10)).toBe(100);
    expect(window.quantile(0, 10)).toBe(1);
    window.observe(400, 1000);
    expect(window.quantile(1, 1100)).toBe(1000);
    expect(window.quantile(0.95, 2000)).toBeUndefined();
    expect(new SlidingWindow({ windowMs: 1000 }).quantile(0.95, 0)).toBeUndefined();
  });

  it('keeps the newest values of a bucket up to its share of the samples', () => {
    const window = new SlidingWindow({ windowMs: 1000, buckets: 2, samples: 6 });
    for (let i = 1; i <= 10; i++) window.observe(0, i);
    // Three values a bucket: the newest three, 8, 9 and 10.
    expect(window.quantile(0, 0)).toBe(8);
    expect(window.quantile(1, 0)).toBe(10);
  });

  it('agrees with a list of timestamped entries (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 1 })), { maxLength: 200 }),
        fc.integer({ min: 0, max: 6000 }),
        (entries, readAt) => {
          const bucketMs = 100;
          const window = new SlidingWindow({ windowMs: 1000, buckets: 10, counters: 2 });
          const sorted = entries.slice().sort((a, b) => a[0] - b[0]);
          const added: [number, number][] = [];
          for (const [at, counter] of sorted) {
            if (at > readAt) break;
            window.add(counter, at);
            added.push([at, counter]);
          }
          // The window holds the buckets (readAt - 1000, readAt], rounded to whole buckets.
          const oldest = Math.floor(readAt / bucketMs) - 10;
          for (const counter of [0, 1]) {
            const expected = added.filter(([at, c]) => c === counter && Math.floor(at / bucketMs) > oldest).length;
            expect(window.sum(counter, readAt)).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects bad options with CONFIG and a bad counter or time with INVALID_INPUT', () => {
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isBallastError(error) ? error.code : 'untyped';
      }
      return undefined;
    };
    expect(codeOf(() => new SlidingWindow({ windowMs: 0 }))).toBe('CONFIG');
    expect(codeOf(() => new SlidingWindow({ windowMs: Number.POSITIVE_INFINITY }))).toBe('CONFIG');
    expect(codeOf(() => new SlidingWindow({ windowMs: 10, buckets: 1.5 }))).toBe('CONFIG');
    expect(codeOf(() => new SlidingWindow({ windowMs: 10, counters: 0 }))).toBe('CONFIG');
    expect(codeOf(() => new SlidingWindow({ windowMs: 10, samples: -1 }))).toBe('CONFIG');
    expect(codeOf(() => new SlidingWindow(null as never))).toBe('CONFIG');
    const window = new SlidingWindow({ windowMs: 10, counters: 2 });
    expect(codeOf(() => window.add(2, 0))).toBe('INVALID_INPUT');
    expect(codeOf(() => window.add(0.5, 0))).toBe('INVALID_INPUT');
    expect(codeOf(() => window.sum(-1, 0))).toBe('INVALID_INPUT');
    expect(codeOf(() => window.add(0, Number.NaN))).toBe('INVALID_INPUT');
  });
});
