import { BallastError } from '@ballast/core';
import { cleanSample, type NumericSample } from './input.js';
import type { TestResult } from './ks.js';
import { sortFloat64 } from './sort.js';
import { besselKScaled } from './special.js';

/** Options of {@link cramerVonMises}. */
export interface CramerVonMisesOptions {
  /** `auto` (default: exact when both samples have at most 20 values), `exact` or `asymptotic`, as scipy. */
  method?: 'auto' | 'exact' | 'asymptotic';
}

/** Average ranks (1-based) of `values`, ties sharing their mean rank (`rankdata(method='average')`). */
function averageRanks(values: Float64Array): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => (values[p] as number) - (values[q] as number));
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k] as number] = rank;
    i = j + 1;
  }
  return ranks;
}

/** CDF of the limiting Cramér-von Mises distribution (scipy `_cdf_cvm_inf`, same truncation). */
function cdfCvmInf(x: number): number {
  let total = 0;
  // Γ(k + 1/2) / Γ(k + 1) by recurrence: exact where scipy goes through gammaln.
  let ratio = Math.sqrt(Math.PI);
  for (let k = 0; k < 1000; k++) {
    if (k > 0) ratio *= (k - 0.5) / k;
    const u = ratio / (Math.PI ** 1.5 * Math.sqrt(x));
    const y = 4 * k + 1;
    const q = (y * y) / (16 * x);
    // exp(-q) K_1/4(q) == besselKScaled(q) * exp(-2q)
    const z = u * Math.sqrt(y) * Math.exp(-2 * q) * besselKScaled(0.25, q);
    total += z;
    if (Math.abs(z) < 1e-7) break;
  }
  return total;
}

/** scipy `_pval_cvm_2samp_exact`: counts the rank configurations (generating function per v). */
function exactPValue(s: number, m: number, n: number): number {
  const g = (a: number, b: number): number => (b === 0 ? a : g(b, a % b));
  const lcm = (m * n) / g(m, n);
  const a = lcm / m;
  const b = lcm / n;
  const mn = m * n;
  const zeta = Math.floor((lcm * lcm * (m + n) * (6 * s - mn * (4 * mn - 1))) / (6 * mn * mn));
  let combinations = 1;
  for (let i = 1; i <= m; i++) combinations = (combinations * (n + i)) / i;
  combinations = Math.round(combinations);
  // Each generating function is a pair of arrays (values ascending, frequencies), so the merge of
  // scipy's `intersect1d`/`concatenate` step is one linear pass and a shift keeps the order.
  type Gen = { values: Float64Array; freqs: Float64Array };
  const merge = (x: Gen, y: Gen, shift: number): Gen => {
    const values = new Float64Array(x.values.length + y.values.length);
    const freqs = new Float64Array(values.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < x.values.length || j < y.values.length) {
      const vx = i < x.values.length ? (x.values[i] as number) : Number.POSITIVE_INFINITY;
      const vy = j < y.values.length ? (y.values[j] as number) : Number.POSITIVE_INFINITY;
      if (vx === vy) {
        values[k] = vx + shift;
        freqs[k++] = (x.freqs[i++] as number) + (y.freqs[j++] as number);
      } else if (vx < vy) {
        values[k] = vx + shift;
        freqs[k++] = x.freqs[i++] as number;
      } else {
        values[k] = vy + shift;
        freqs[k++] = y.freqs[j++] as number;
      }
    }
    return { values: values.subarray(0, k), freqs: freqs.subarray(0, k) };
  };
  const empty: Gen = { values: new Float64Array(0), freqs: new Float64Array(0) };
  let gs: Gen[] = [{ values: Float64Array.of(0), freqs: Float64Array.of(1) }];
  for (let v = 1; v <= m; v++) gs.push(empty);
  for (let u = 0; u <= n; u++) {
    const next: Gen[] = [];
    let tmp = empty;
    for (let v = 0; v < gs.length; v++) {
      tmp = merge(tmp, gs[v] as Gen, (a * v - b * u) ** 2);
      next.push(tmp);
    }
    gs = next;
  }
  const last = gs[m] as Gen;
  let count = 0;
  for (let i = 0; i < last.values.length; i++) if ((last.values[i] as number) >= zeta) count += last.freqs[i] as number;
  return count / combinations;
}

/**
 * Two-sample Cramér-von Mises test, as `scipy.stats.cramervonmises_2samp`: exact p-value for
 * samples of at most 20 values, Anderson's asymptotic otherwise. Needs at least two finite values
 * per sample (`INVALID_INPUT` otherwise).
 *
 * @example
 * const { statistic, pValue } = cramerVonMises([1.2, 0.4, 2.2, 1.9], [3.1, 2.8, 3.9, 4.4]);
 */
export function cramerVonMises(reference: NumericSample, current: NumericSample, options: CramerVonMisesOptions = {}): TestResult {
  const { method = 'auto' } = options;
  if (method !== 'auto' && method !== 'exact' && method !== 'asymptotic') {
    throw new BallastError('INVALID_INPUT', `unknown cramerVonMises method "${String(method)}"`);
  }
  const ra = cleanSample(reference, 'reference', 2);
  const rb = cleanSample(current, 'current', 2);
  const r = cramerVonMisesSorted(sortFloat64(ra.values), sortFloat64(rb.values), method);
  return { ...r, droppedReference: ra.dropped, droppedCurrent: rb.dropped };
}

/**
 * @internal The Cramér-von Mises test on two sorted, finite samples of at least two values each
 * (the monitor keeps its reference sorted).
 */
export function cramerVonMisesSorted(
  x: Float64Array,
  y: Float64Array,
  method: 'auto' | 'exact' | 'asymptotic' = 'auto',
): { statistic: number; pValue: number } {
  const nx = x.length;
  const ny = y.length;
  const all = new Float64Array(nx + ny);
  all.set(x);
  all.set(y, nx);
  const r = averageRanks(all);
  let sx = 0;
  for (let i = 0; i < nx; i++) sx += ((r[i] as number) - (i + 1)) ** 2;
  let sy = 0;
  for (let i = 0; i < ny; i++) sy += ((r[nx + i] as number) - (i + 1)) ** 2;
  const u = nx * sx + ny * sy;
  const k = nx * ny;
  const N = nx + ny;
  const t = u / (k * N) - (4 * k - 1) / (6 * N);
  const useExact = method === 'exact' || (method === 'auto' && Math.max(nx, ny) <= 20);
  let p: number;
  if (useExact) {
    p = exactPValue(u, nx, ny);
  } else {
    const et = (1 + 1 / N) / 6;
    let vt = (N + 1) * (4 * k * N - 3 * (nx * nx + ny * ny) - 2 * k);
    vt = vt / (45 * N * N * 4 * k);
    const tn = 1 / 6 + (t - et) / Math.sqrt(45 * vt);
    p = tn >= 0.003 ? Math.max(1 - cdfCvmInf(tn), 0) : 1;
  }
  return { statistic: t, pValue: Math.min(Math.max(p, 0), 1) };
}
