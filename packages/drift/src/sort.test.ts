import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortFloat64 } from './sort.js';

describe('sortFloat64', () => {
  it('sorts like the built-in numeric sort, small and large, negative and positive', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        (values, seed) => {
          // pad to the radix path (>= 16384 values) half of the time
          const input = seed % 2 === 0 ? values : [...values, ...Array.from({ length: 17000 }, (_, i) => Math.sin(i * (seed + 1)) * 1e3)];
          const expected = Float64Array.from(input).sort();
          const actual = sortFloat64(Float64Array.from(input));
          expect(actual.length).toBe(expected.length);
          for (let i = 0; i < expected.length; i++) expect(actual[i] === expected[i] || (actual[i] === 0 && expected[i] === 0)).toBe(true);
        },
      ),
      { numRuns: 10 },
    );
  });
});
