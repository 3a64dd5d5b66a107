import { defineModel } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { bucketOf, hashKey } from './hash.js';
import { rollout } from './rollout.js';

// erfc by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), enough for a 0.01 test.
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const value = poly * Math.exp(-z * z);
  return x >= 0 ? value : 2 - value;
}

/** p-value of a chi-square statistic with one degree of freedom: P(X > x) = erfc(sqrt(x / 2)). */
function chiSquarePValue1(statistic: number): number {
  return erfc(Math.sqrt(statistic / 2));
}

function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < observed.length; i++) sum += ((observed[i] as number) - (expected[i] as number)) ** 2 / (expected[i] as number);
  return sum;
}

describe('chi-square helper', () => {
  it('matches the textbook critical values', () => {
    expect(chiSquarePValue1(6.634897)).toBeCloseTo(0.01, 5);
    expect(chiSquarePValue1(3.841459)).toBeCloseTo(0.05, 5);
    expect(chiSquarePValue1(0)).toBeCloseTo(1, 6);
  });
});

describe('hashKey / bucketOf', () => {
  it('is deterministic and depends on the seed', () => {
    expect(hashKey('user-1')).toBe(hashKey('user-1'));
    expect(hashKey('user-1', 1)).not.toBe(hashKey('user-1', 2));
    const b = bucketOf('user-1', 9);
    expect(b).toBeGreaterThanOrEqual(0);
    expect(b).toBeLessThan(1);
  });

  it('spreads sequential keys uniformly over ten buckets (chi-square, 9 dof, 0.01 critical value 21.666)', () => {
    const counts = new Array<number>(10).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[Math.floor(bucketOf(`user-${i}`, 12345) * 10)]! += 1;
    expect(chiSquare(counts, new Array<number>(10).fill(n / 10))).toBeLessThan(21.666);
  });
});

describe('sticky canary assignment', () => {
  const stable = defineModel({ name: 'm', version: 'v1', infer: async () => 'v1' });
  const candidate = defineModel({ name: 'm', version: 'v2', infer: async () => 'v2' });

  it('sends one key to one version, every time', async () => {
    const model = rollout({ stable, candidate, strategy: { type: 'canary', weight: 0.3 } });
    for (let i = 0; i < 200; i++) {
      const principal = { id: `user-${i}` };
      const first = await model.infer(null, { principal });
      for (let repeat = 0; repeat < 5; repeat++) expect(await model.infer(null, { principal })).toBe(first);
    }
    await model.close();
  });

  for (const weight of [0.05, 0.2, 0.5]) {
    it(`splits 20,000 keys to match weight ${weight} (chi-square, 1 dof, p > 0.01)`, async () => {
      const model = rollout({ name: `split-${weight}`, stable, candidate, strategy: { type: 'canary', weight } });
      const n = 20_000;
      let onCandidate = 0;
      for (let i = 0; i < n; i++) if ((await model.infer(null, { principal: { id: `customer-${i}` } })) === 'v2') onCandidate++;
      const statistic = chiSquare([onCandidate, n - onCandidate], [n * weight, n * (1 - weight)]);
      expect(chiSquarePValue1(statistic)).toBeGreaterThan(0.01);
      await model.close();
    });
  }

  it('a skewed split fails the same test (the test can fail)', () => {
    const n = 20_000;
    const statistic = chiSquare([0.23 * n, 0.77 * n], [0.2 * n, 0.8 * n]);
    expect(chiSquarePValue1(statistic)).toBeLessThan(0.01);
  });
});
