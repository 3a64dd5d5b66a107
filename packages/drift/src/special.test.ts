import { describe, expect, it } from 'vitest';
import { chiSquareSurvival, gammaQ, kolmogornSurvival, logGamma, smirnov } from './special.js';

// Reference values printed by scipy 1.17 (`kstwo.sf(x, n)`, `special.smirnov(n, x)`), one per
// branch of scipy's algorithm selection: Durbin matrix, Pomeranz, Pelz-Good, Smirnov sum, ends.
const KSTWO: [number, number, number][] = [
  [10, 0.05, 1.0],
  [10, 0.15, 0.95396527],
  [10, 0.3, 0.27053557479999946],
  [10, 0.6, 0.0005681672000000003],
  [100, 0.05, 0.9532159710635725],
  [100, 0.12, 0.1033037490181987],
  [100, 0.25, 5.408871776434847e-6],
  [140, 0.2, 2.1981563302200222e-5],
  [500, 0.02, 0.9859871786857471],
  [500, 0.05, 0.15866260223815387],
  [500, 0.1, 8.342293067263533e-5],
  [2000, 0.01, 0.9871373661366796],
  [2000, 0.04, 0.0032305680961256145],
  [20000, 0.002, 0.9999979895410975],
  [20000, 0.008, 0.15371596723031855],
  [200000, 0.002, 0.39995085369038097],
  [5, 0.95, 6.250000000000028e-7],
  [7, 0.1, 0.9999899731574429],
];
const SMIRNOV: [number, number, number][] = [
  [10, 0.3, 0.1354635556],
  [100, 0.1, 0.1265906584562817],
  [1000, 0.05, 0.006506037390545166],
  [3, 0.5, 0.16666666666666666],
];

function close(actual: number, expected: number, relative = 1e-6): boolean {
  return Math.abs(actual - expected) <= 1e-12 || Math.abs(actual - expected) <= relative * Math.abs(expected);
}

describe('Kolmogorov distributions', () => {
  for (const [n, x, expected] of KSTWO) {
    it(`kstwo.sf(${x}, ${n})`, () => {
      const actual = kolmogornSurvival(n, x);
      expect(close(actual, expected), `${actual} vs ${expected}`).toBe(true);
    });
  }
  for (const [n, x, expected] of SMIRNOV) {
    it(`smirnov(${n}, ${x})`, () => {
      const actual = smirnov(n, x);
      expect(close(actual, expected), `${actual} vs ${expected}`).toBe(true);
    });
  }
  it('is NaN for a non-integer n and clipped to [0, 1] at the ends', () => {
    expect(kolmogornSurvival(2.5, 0.3)).toBeNaN();
    expect(kolmogornSurvival(10, 0)).toBe(1);
    expect(kolmogornSurvival(10, 1)).toBe(0);
  });
});

describe('gamma functions', () => {
  it('logGamma matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(11)).toBeCloseTo(Math.log(3628800), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });
  it('chi-square survival matches closed forms', () => {
    // dof 2: sf(x) = exp(-x/2); dof 1 at 3.841458820694124 is 0.05
    for (const x of [0.1, 1, 10, 100, 600]) {
      expect(close(chiSquareSurvival(x, 2), Math.exp(-x / 2), 1e-12)).toBe(true);
    }
    expect(close(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-9)).toBe(true);
    expect(gammaQ(3, 0)).toBe(1);
    expect(chiSquareSurvival(Number.POSITIVE_INFINITY, 3)).toBe(0);
  });
});
