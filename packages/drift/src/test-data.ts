import { seededRandom } from '@ballast/core';

/** @internal Seeded normal draws (Box-Muller) for tests and examples. */
export function normalSample(n: number, mean: number, sd: number, seed: number): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = 1 - random();
    const v = random();
    out.push(mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}
