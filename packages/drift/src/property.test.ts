import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binNumeric } from './binning.js';
import { chiSquareGoodnessOfFit } from './chi-square.js';
import { cramerVonMises } from './cramer-von-mises.js';
import { hellinger, jensenShannon, psi, wassersteinDistance } from './distances.js';
import { ksTest } from './ks.js';

// Arrays shaped to break things: empty, single values, all equal, heavy ties, NaN and ±Infinity.
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY) },
);
const sample = fc.oneof(
  fc.array(value, { maxLength: 60 }),
  fc.array(fc.constant(2.5), { maxLength: 30 }),
  fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 300 }),
);

function finiteCount(values: number[]): number {
  return values.filter(Number.isFinite).length;
}

/** Runs `fn`; an error is allowed only when documented: INVALID_INPUT for too few finite values. */
function guarded<T>(fn: () => T, enough: boolean): T | undefined {
  try {
    const result = fn();
    expect(enough).toBe(true);
    return result;
  } catch (error) {
    expect(isBallastError(error) && error.code === 'INVALID_INPUT').toBe(true);
    expect(enough).toBe(false);
    return undefined;
  }
}

describe('properties over random arrays', () => {
  it('ksTest: statistic and p-value in [0, 1] for every method, or INVALID_INPUT when empty', () => {
    fc.assert(
      fc.property(
        sample,
        sample,
        fc.constantFrom('auto', 'exact', 'asymp'),
        fc.constantFrom('two-sided', 'less', 'greater'),
        (a, b, method, alternative) => {
          const r = guarded(() => ksTest(a, b, { method, alternative }), finiteCount(a) > 0 && finiteCount(b) > 0);
          if (!r) return;
          expect(r.statistic).toBeGreaterThanOrEqual(0);
          expect(r.statistic).toBeLessThanOrEqual(1);
          expect(r.pValue).toBeGreaterThanOrEqual(0);
          expect(r.pValue).toBeLessThanOrEqual(1);
          expect(r.droppedReference + r.droppedCurrent).toBe(a.length - finiteCount(a) + b.length - finiteCount(b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cramerVonMises: p-value in [0, 1], or INVALID_INPUT below two finite values', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const r = guarded(
          () => cramerVonMises(a.slice(0, 40), b.slice(0, 40)),
          finiteCount(a.slice(0, 40)) > 1 && finiteCount(b.slice(0, 40)) > 1,
        );
        if (!r) return;
        expect(r.pValue).toBeGreaterThanOrEqual(0);
        expect(r.pValue).toBeLessThanOrEqual(1);
        expect(Number.isFinite(r.statistic)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('distances are finite and non-negative; Jensen-Shannon base 2 and Hellinger within [0, 1]', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const enough = finiteCount(a) > 0 && finiteCount(b) > 0;
        const w = guarded(() => wassersteinDistance(a, b, { normed: true }), enough);
        if (w !== undefined) expect(w).toBeGreaterThanOrEqual(0);
        const binned = guarded(() => binNumeric(a, b), enough);
        if (!binned) return;
        const js = jensenShannon(binned.reference, binned.current, { base: 2 });
        expect(js).toBeGreaterThanOrEqual(0);
        expect(js).toBeLessThanOrEqual(1 + 1e-12);
        const h = hellinger(binned.reference, binned.current);
        expect(h).toBeLessThanOrEqual(1 + 1e-12);
        expect(psi(binned.reference, binned.current)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });

  it('chi-square p-values stay in [0, 1]', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat({ max: 1000 }), { minLength: 8, maxLength: 8 }),
        (ref, cur) => {
          const current = cur.slice(0, ref.length);
          const enough = ref.reduce((s, v) => s + v, 0) > 0 && current.reduce((s, v) => s + v, 0) > 0;
          const r = guarded(() => chiSquareGoodnessOfFit(ref, current), enough);
          if (!r) return;
          expect(r.pValue).toBeGreaterThanOrEqual(0);
          expect(r.pValue).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
