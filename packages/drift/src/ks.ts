import { BallastError } from '@ballast/core';
import { cleanSample, type NumericSample } from './input.js';
import { sortFloat64 } from './sort.js';
import { kolmogornSurvival, logGamma } from './special.js';

/** Options of {@link ksTest}. */
export interface KsTestOptions {
  /**
   * `exact`: the lattice-path p-value (Hodges); `asymp`: the one-sample `kstwo` distribution at
   * n = round(n1·n2 / (n1 + n2)) (two-sided) or Hodges' approximation (one-sided); `auto`
   * (default): exact when max(n1, n2) ≤ 10000, as `scipy.stats.ks_2samp`. Exact falls back to
   * asymptotic when the path count overflows, as scipy does.
   */
  method?: 'auto' | 'exact' | 'asymp';
  /** `two-sided` (default), `less` or `greater`, with scipy's meaning. */
  alternative?: 'two-sided' | 'less' | 'greater';
}

/** Result of a two-sample hypothesis test. */
export interface TestResult {
  /** The test statistic. */
  statistic: number;
  /** The p-value, in [0, 1]. */
  pValue: number;
  /** Non-finite values dropped from the reference sample. */
  droppedReference: number;
  /** Non-finite values dropped from the current sample. */
  droppedCurrent: number;
}

/** Result of {@link ksTest}. */
export interface KsTestResult extends TestResult {
  /** The method actually used (`exact` may fall back to `asymp`). */
  method: 'exact' | 'asymp';
}

const MAX_AUTO_N = 10000;

/** Round half to even, as `np.round`. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** scipy `_compute_prob_outside_square`: P(D_{n,n} >= h/n), Horner-like to avoid cancellation. */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k -= 1;
  }
  return 2 * P;
}

/** scipy `_compute_outer_prob_inside_method` (Hodges' inside method, Viehmann's 1 - p recursion). */
function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  let m = m0;
  let n = n0;
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.max(Math.floor((ng * i - h) / mg) + 1, 0);
    minj = Math.min(minj, n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = ((A[jj + minj - lastminj] as number) * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      for (let q = maxj - minj; q < maxj - minj + (lastlen - curlen) && q < lenA; q++) A[q] = 1;
    }
  }
  return A[maxj - minj - 1] as number;
}

function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  if (k === 0 || k === n) return 1;
  const kk = Math.min(k, n - k);
  if (kk < 30) {
    let r = 1;
    for (let i = 1; i <= kk; i++) r = (r * (n - kk + i)) / i;
    return r;
  }
  return Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1));
}

/** scipy `_count_paths_outside_method`: number of lattice paths going low (one-sided). */
function countPathsOutside(m0: number, n0: number, g: number, h: number): number {
  let m = m0;
  let n = n0;
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  const lxj = n + Math.floor((mg - h) / mg);
  if (lxj <= 0) return binom(m + n, n);
  const xj: number[] = [];
  for (let j = 0; j < lxj; j++) xj.push(Math.floor((h + mg * j + ng - 1) / ng));
  const B = new Float64Array(lxj);
  B[0] = 1;
  for (let j = 1; j < lxj; j++) {
    let Bj = binom((xj[j] as number) + j, j);
    for (let i = 0; i < j; i++) Bj -= binom((xj[j] as number) - (xj[i] as number) + j - i, j - i) * (B[i] as number);
    // Overflow: scipy gives up on the exact count here and switches to the asymptotic formula.
    if (!Number.isFinite(Bj)) return Number.NaN;
    B[j] = Bj;
  }
  let paths = 0;
  for (let j = 0; j < lxj; j++) paths += (B[j] as number) * binom(m - (xj[j] as number) + (n - j), n - j);
  return paths;
}

function exactProb(n1: number, n2: number, g: number, d: number, alternative: string): number | undefined {
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  if (h === 0) return 1;
  let prob: number;
  if (alternative === 'two-sided') {
    prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  } else if (n1 === n2) {
    prob = 1;
    for (let j = 0; j < h; j++) prob *= (n1 - j) / (n1 + j + 1);
  } else {
    const paths = countPathsOutside(n1, n2, g, h);
    const total = binom(n1 + n2, n1);
    if (!Number.isFinite(paths) || !Number.isFinite(total) || paths > total) return undefined;
    prob = paths / total;
  }
  if (!(prob >= 0 && prob <= 1)) return undefined;
  return prob;
}

/**
 * Two-sample Kolmogorov-Smirnov test, numerically as `scipy.stats.ks_2samp`: the statistic is the
 * largest distance between the two empirical CDFs; the p-value is exact (lattice paths) for
 * max(n1, n2) ≤ 10000 under `auto`, else from the `kstwo` distribution. NaN and ±Infinity are
 * dropped and counted; an empty sample is `INVALID_INPUT`.
 *
 * @example
 * const { statistic, pValue } = ksTest([0.1, 0.4, 0.35, 0.8], [0.9, 1.2, 1.1, 0.7]);
 */
export function ksTest(reference: NumericSample, current: NumericSample, options: KsTestOptions = {}): KsTestResult {
  const { method = 'auto', alternative = 'two-sided' } = options;
  if (method !== 'auto' && method !== 'exact' && method !== 'asymp') {
    throw new BallastError('INVALID_INPUT', `unknown ksTest method "${String(method)}"`);
  }
  if (alternative !== 'two-sided' && alternative !== 'less' && alternative !== 'greater') {
    throw new BallastError('INVALID_INPUT', `unknown ksTest alternative "${String(alternative)}"`);
  }
  const a = cleanSample(reference, 'reference');
  const b = cleanSample(current, 'current');
  const result = ksSorted(sortFloat64(a.values), sortFloat64(b.values), method, alternative);
  return { ...result, droppedReference: a.dropped, droppedCurrent: b.dropped };
}

/** @internal The KS test on two sorted, finite, non-empty samples (the monitor keeps its reference sorted). */
export function ksSorted(
  x: Float64Array,
  y: Float64Array,
  method: 'auto' | 'exact' | 'asymp' = 'auto',
  alternative: 'two-sided' | 'less' | 'greater' = 'two-sided',
): { statistic: number; pValue: number; method: 'exact' | 'asymp' } {
  const n1 = x.length;
  const n2 = y.length;
  // Walk the merged order once; at each distinct value both ECDFs are evaluated "side=right",
  // exactly the differences scipy forms with searchsorted.
  let i = 0;
  let j = 0;
  let maxS = Number.NEGATIVE_INFINITY;
  let minS = Number.POSITIVE_INFINITY;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && (x[i] as number) <= (y[j] as number)) ? (x[i] as number) : (y[j] as number);
    while (i < n1 && (x[i] as number) <= v) i++;
    while (j < n2 && (y[j] as number) <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const minStat = Math.min(Math.max(-minS, 0), 1);
  let d = alternative === 'less' || (alternative === 'two-sided' && minStat > maxS) ? minStat : maxS;
  const g = gcd(n1, n2);
  let mode: 'exact' | 'asymp' = method === 'auto' ? (Math.max(n1, n2) <= MAX_AUTO_N ? 'exact' : 'asymp') : method;
  if (mode === 'exact' && n1 / g >= 2147483647 / (n2 / g)) mode = 'asymp';
  let prob = Number.NaN;
  if (mode === 'exact') {
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    const exact = exactProb(n1, n2, g, d, alternative);
    if (exact === undefined) mode = 'asymp';
    else {
      d = h / lcm;
      prob = exact;
    }
  }
  if (mode === 'asymp') {
    const m = Math.max(n1, n2);
    const n = Math.min(n1, n2);
    const en = (m * n) / (m + n);
    if (alternative === 'two-sided') {
      prob = kolmogornSurvival(roundHalfEven(en), d);
    } else {
      const z = Math.sqrt(en) * d;
      const expt = -2 * z * z - (2 * z * (m + 2 * n)) / Math.sqrt(m * n * (m + n)) / 3;
      prob = Math.exp(expt);
    }
  }
  const pValue = Number.isNaN(prob) ? 1 : Math.min(Math.max(prob, 0), 1);
  return { statistic: d, pValue, method: mode };
}
