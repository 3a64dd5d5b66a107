import { BallastError } from '@ballast/core';
import { type BinnedShares, type Binning, binCategorical, binNumeric } from './binning.js';
import { cleanSample, type NumericSample } from './input.js';
import { sortFloat64 } from './sort.js';

/** Options of {@link wassersteinDistance}. */
export interface WassersteinOptions {
  /** Divide by the reference's population standard deviation, floored at 0.001 (Evidently's normed distance). Default false. */
  normed?: boolean;
}

/**
 * First Wasserstein (earth mover's) distance between two samples, as
 * `scipy.stats.wasserstein_distance`: the area between the two empirical CDFs.
 *
 * @example
 * wassersteinDistance([0, 1, 3], [5, 6, 8]); // 5
 */
export function wassersteinDistance(reference: NumericSample, current: NumericSample, options: WassersteinOptions = {}): number {
  const u = sortFloat64(cleanSample(reference, 'reference').values);
  const v = sortFloat64(cleanSample(current, 'current').values);
  const total = wassersteinSorted(u, v);
  if (!options.normed) return total;
  let mean = 0;
  for (const x of u) mean += x;
  mean /= u.length;
  let variance = 0;
  for (const x of u) variance += (x - mean) ** 2;
  return total / Math.max(Math.sqrt(variance / u.length), 0.001);
}

/** @internal The plain Wasserstein distance of two sorted, finite, non-empty samples (the monitor keeps its reference sorted). */
export function wassersteinSorted(u: Float64Array, v: Float64Array): number {
  const nu = u.length;
  const nv = v.length;
  let i = 0;
  let j = 0;
  let total = 0;
  let previous = Math.min(u[0] as number, v[0] as number);
  while (i < nu || j < nv) {
    const next = j >= nv || (i < nu && (u[i] as number) <= (v[j] as number)) ? (u[i] as number) : (v[j] as number);
    total += Math.abs(i / nu - j / nv) * (next - previous);
    while (i < nu && (u[i] as number) <= next) i++;
    while (j < nv && (v[j] as number) <= next) j++;
    previous = next;
  }
  return total;
}

function checkShares(reference: readonly number[], current: readonly number[]): void {
  if (!Array.isArray(reference) || !Array.isArray(current) || reference.length !== current.length) {
    throw new BallastError('INVALID_INPUT', 'reference and current shares must be arrays of the same length');
  }
  if (reference.length === 0) throw new BallastError('INVALID_INPUT', 'shares must not be empty');
  for (const v of [...reference, ...current]) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new BallastError('INVALID_INPUT', 'shares must be finite, non-negative numbers');
    }
  }
}

/**
 * Replaces empty bins so logarithms stay finite (Evidently's convention): zero shares become
 * 0.0001, or the smallest non-zero share / 1e6 when that share is itself ≤ 0.0001.
 */
export function fillEmptyBins(values: readonly number[]): number[] {
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) if (v > 0 && v < min) min = v;
  const fill = min <= 0.0001 ? min / 1e6 : 0.0001;
  return values.map((v) => (v === 0 ? fill : v));
}

/**
 * Population stability index over bin shares, Σ (ref − cur) · ln(ref / cur), with empty bins
 * filled ({@link fillEmptyBins}). Common reading: < 0.1 stable, 0.1–0.25 moderate, > 0.25 shifted.
 *
 * @example
 * psi([0.25, 0.25, 0.5], [0.2, 0.3, 0.5]);
 */
export function psi(reference: readonly number[], current: readonly number[]): number {
  checkShares(reference, current);
  const r = fillEmptyBins(reference);
  const c = fillEmptyBins(current);
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += ((r[i] as number) - (c[i] as number)) * Math.log((r[i] as number) / (c[i] as number));
  return sum;
}

/**
 * Kullback-Leibler divergence KL(reference ‖ current) in nats over bin shares (both renormalised,
 * empty bins filled as in {@link psi}), as `scipy.stats.entropy(ref, cur)`.
 *
 * @example
 * klDivergence([0.5, 0.5], [0.9, 0.1]);
 */
export function klDivergence(reference: readonly number[], current: readonly number[]): number {
  checkShares(reference, current);
  const r = fillEmptyBins(reference);
  const c = fillEmptyBins(current);
  const sr = r.reduce((s, v) => s + v, 0);
  const sc = c.reduce((s, v) => s + v, 0);
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    const p = (r[i] as number) / sr;
    const q = (c[i] as number) / sc;
    sum += p * Math.log(p / q);
  }
  return sum;
}

/** Options of {@link jensenShannon}. */
export interface JensenShannonOptions {
  /** Logarithm base: `Math.E` (default, nats, bounded by √ln 2) or 2 (bounded by 1). */
  base?: number;
}

/**
 * Jensen-Shannon *distance* (the square root of the divergence) over bin shares, as
 * `scipy.spatial.distance.jensenshannon`: no empty-bin filling is needed. Natural log unless
 * `base` is given.
 *
 * @example
 * jensenShannon([0.5, 0.5], [0.9, 0.1], { base: 2 });
 */
export function jensenShannon(reference: readonly number[], current: readonly number[], options: JensenShannonOptions = {}): number {
  checkShares(reference, current);
  const { base = Math.E } = options;
  if (!(base > 0 && base !== 1)) throw new BallastError('INVALID_INPUT', 'base must be positive and not 1');
  const sr = reference.reduce((s, v) => s + v, 0);
  const sc = current.reduce((s, v) => s + v, 0);
  if (!(sr > 0 && sc > 0)) throw new BallastError('INVALID_INPUT', 'shares must not sum to zero');
  let divergence = 0;
  for (let i = 0; i < reference.length; i++) {
    const p = (reference[i] as number) / sr;
    const q = (current[i] as number) / sc;
    const m = (p + q) / 2;
    if (p > 0) divergence += p * Math.log(p / m);
    if (q > 0) divergence += q * Math.log(q / m);
  }
  divergence /= 2;
  if (base !== Math.E) divergence /= Math.log(base);
  return Math.sqrt(Math.max(divergence, 0));
}

/**
 * Hellinger distance over bin shares, √(Σ (√ref − √cur)²) / √2, in [0, 1]; no filling.
 *
 * @example
 * hellinger([0.5, 0.5], [0.9, 0.1]);
 */
export function hellinger(reference: readonly number[], current: readonly number[]): number {
  checkShares(reference, current);
  let sum = 0;
  for (let i = 0; i < reference.length; i++) sum += (Math.sqrt(reference[i] as number) - Math.sqrt(current[i] as number)) ** 2;
  return Math.sqrt(sum) / Math.SQRT2;
}

/** The bin-share distances. */
export type BinnedMetric = 'psi' | 'kl' | 'jensen-shannon' | 'hellinger';

/** Options of {@link binnedDistance}. */
export interface BinnedDistanceOptions {
  /** Which distance (default `psi`). */
  metric?: BinnedMetric;
  /** Binning for numeric samples (default `auto`, see {@link Binning}). */
  binning?: Binning;
  /** Logarithm base for Jensen-Shannon (default e). */
  base?: number;
  /** Treat the samples as categories (strings, booleans). Default: categorical when any value is not a number. */
  categorical?: boolean;
}

/** Result of {@link binnedDistance}. */
export interface BinnedDistanceResult extends BinnedShares {
  /** The distance. */
  value: number;
  /** The metric used. */
  metric: BinnedMetric;
}

/**
 * Bins two raw samples on common bins, then computes a bin-share distance: the sample-level
 * wrapper of {@link psi}, {@link klDivergence}, {@link jensenShannon} and {@link hellinger}.
 *
 * @example
 * const { value } = binnedDistance(referenceAges, currentAges, { metric: 'psi' });
 */
export function binnedDistance(
  reference: readonly unknown[] | Float64Array | Float32Array,
  current: readonly unknown[] | Float64Array | Float32Array,
  options: BinnedDistanceOptions = {},
): BinnedDistanceResult {
  const { metric = 'psi', binning = 'auto', base } = options;
  const isNumeric = (sample: readonly unknown[] | Float64Array | Float32Array): boolean =>
    !Array.isArray(sample) || sample.every((v) => typeof v === 'number');
  const categorical = options.categorical ?? !(isNumeric(reference) && isNumeric(current));
  const binned = categorical
    ? binCategorical(Array.from(reference as ArrayLike<unknown>), Array.from(current as ArrayLike<unknown>))
    : binNumeric(reference as NumericSample, current as NumericSample, binning);
  if (binned.reference.length === 0) throw new BallastError('INVALID_INPUT', 'no values to compare');
  let value: number;
  switch (metric) {
    case 'psi':
      value = psi(binned.reference, binned.current);
      break;
    case 'kl':
      value = klDivergence(binned.reference, binned.current);
      break;
    case 'jensen-shannon':
      value = jensenShannon(binned.reference, binned.current, base === undefined ? {} : { base });
      break;
    case 'hellinger':
      value = hellinger(binned.reference, binned.current);
      break;
    default:
      throw new BallastError('INVALID_INPUT', `unknown metric "${String(metric)}"`);
  }
  return { ...binned, value, metric };
}
