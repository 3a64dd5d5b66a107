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

/** @internal Rows of two numeric features (`a` shifted by `shift`, `b`) and a label `color`, more often red when shifted. */
export function featureRows(n: number, shift: number, seed: number): Record<string, unknown>[] {
  const a = normalSample(n, shift, 1, seed);
  const b = normalSample(n, 10, 2, seed + 1);
  const random = seededRandom(seed + 2);
  return a.map((x, i) => ({ a: x, b: b[i], color: random() < (shift > 0 ? 0.8 : 0.5) ? 'red' : 'blue' }));
}
