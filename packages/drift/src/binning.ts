import { BallastError } from '@ballast/core';
import { cleanSample, type NumericSample } from './input.js';

/**
 * How numeric samples are binned before a distance is computed:
 * - `auto` (default): Sturges edges over reference + current when the reference has more than 20
 *   distinct values, else one bin per distinct value (Evidently's rule);
 * - `sturges` / `doane`: numpy's `histogram_bin_edges` estimators over reference + current;
 * - `{ quantiles: k }`: k bins at the reference's quantiles (out-of-range current values fall in the end bins);
 * - `{ edges: [...] }`: fixed, increasing edges (values outside are dropped, as numpy);
 * - `values`: one bin per distinct value.
 */
export type Binning = 'auto' | 'sturges' | 'doane' | 'values' | { quantiles: number } | { edges: readonly number[] };

function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(step === 0 ? (i / div) * delta + start : i * step + start);
  out[num - 1] = stop;
  return out;
}

function extent(values: Float64Array): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function edgesFromWidth(values: Float64Array, width: number): number[] {
  let [first, last] = extent(values);
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const bins = width ? Math.ceil((last - first) / width) : 1;
  return linspace(first, last, bins + 1);
}

/**
 * Sturges bin edges, as `numpy.histogram_bin_edges(values, bins='sturges')`.
 *
 * @example
 * sturgesEdges([1, 2, 2, 3, 7]); // 5 values → 4 equal-width bins over [1, 7]
 */
export function sturgesEdges(values: NumericSample): number[] {
  const { values: v } = cleanSample(values, 'values');
  const [min, max] = extent(v);
  return edgesFromWidth(v, (max - min) / (Math.log2(v.length) + 1));
}

/**
 * Doane bin edges (Sturges corrected for skewness), as `numpy.histogram_bin_edges(values, bins='doane')`.
 *
 * @example
 * doaneEdges([1, 1, 1, 2, 2, 3, 9, 20]);
 */
export function doaneEdges(values: NumericSample): number[] {
  const { values: v } = cleanSample(values, 'values');
  const n = v.length;
  let width = 0;
  if (n > 2) {
    const sg1 = Math.sqrt((6 * (n - 2)) / ((n + 1) * (n + 3)));
    let mean = 0;
    for (const x of v) mean += x;
    mean /= n;
    let variance = 0;
    for (const x of v) variance += (x - mean) ** 2;
    const sigma = Math.sqrt(variance / n);
    if (sigma > 0) {
      let g1 = 0;
      for (const x of v) g1 += ((x - mean) / sigma) ** 3;
      g1 /= n;
      const [min, max] = extent(v);
      width = (max - min) / (1 + Math.log2(n) + Math.log2(1 + Math.abs(g1) / sg1));
    }
  }
  return edgesFromWidth(v, width);
}

/** Linear-interpolated quantile of sorted values (numpy's default `linear` method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = q * (n - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, n - 1);
  const fraction = position - low;
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return fraction === 0 ? a : a + (b - a) * fraction;
}

/**
 * Edges at the reference's quantiles (`bins` equal-frequency bins; duplicate edges from ties merged).
 *
 * @example
 * quantileEdges([1, 2, 3, 4, 5, 6, 7, 8], 4); // [1, 2.75, 4.5, 6.25, 8]
 */
export function quantileEdges(reference: NumericSample, bins = 10): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new BallastError('INVALID_INPUT', 'bins must be a positive integer');
  const sorted = cleanSample(reference, 'reference').values.sort();
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const edge = quantileSorted(sorted, i / bins);
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  if (edges.length === 1) edges.push((edges[0] as number) + 1);
  return edges;
}

/**
 * Counts per bin, as `numpy.histogram(values, edges)`: bin i holds [e_i, e_i+1), the last bin also
 * its right edge; values outside are not counted unless `clamp` puts them in the end bins.
 *
 * @example
 * histogram([0.5, 1, 1.5, 3], [0, 1, 2, 3]); // [1, 2, 1]
 */
export function histogram(values: ArrayLike<number>, edges: readonly number[], clamp = false): number[] {
  const bins = edges.length - 1;
  if (bins < 1) throw new BallastError('INVALID_INPUT', 'histogram needs at least two edges');
  const counts = new Array<number>(bins).fill(0);
  const first = edges[0] as number;
  const last = edges[bins] as number;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < first || v > last) {
      if (clamp) counts[v < first ? 0 : bins - 1] = (counts[v < first ? 0 : bins - 1] as number) + 1;
      continue;
    }
    if (v === last) {
      counts[bins - 1] = (counts[bins - 1] as number) + 1;
      continue;
    }
    // largest i with edges[i] <= v
    let lo = 0;
    let hi = bins;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((edges[mid] as number) <= v) lo = mid;
      else hi = mid;
    }
    counts[lo] = (counts[lo] as number) + 1;
  }
  return counts;
}

/**
 * Counts per category in the given order (categories not listed are added, sorted, after them).
 *
 * @example
 * categoryCounts(['a', 'b', 'a']); // { categories: ['a', 'b'], counts: [2, 1] }
 */
export function categoryCounts(values: readonly unknown[], categories: readonly string[] = []): { categories: string[]; counts: number[] } {
  const map = new Map<string, number>();
  for (const c of categories) map.set(c, 0);
  const extra = new Set<string>();
  for (const value of values) {
    if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) continue;
    const key = String(value);
    if (!map.has(key)) {
      map.set(key, 0);
      extra.add(key);
    }
    map.set(key, (map.get(key) as number) + 1);
  }
  const order = [...categories, ...[...extra].sort()];
  return { categories: order, counts: order.map((c) => map.get(c) as number) };
}

/** Shares (counts divided by their total). */
export function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((s, v) => s + v, 0);
  if (!(total > 0)) throw new BallastError('INVALID_INPUT', 'shares need a positive total count');
  return counts.map((c) => c / total);
}

/** Reference and current shares over the same bins. */
export interface BinnedShares {
  /** Share of the reference in each bin. */
  reference: number[];
  /** Share of the current sample in each bin. */
  current: number[];
  /** Bin edges (numeric bins). */
  edges?: number[];
  /** Bin labels (one bin per distinct value or category). */
  categories?: string[];
}

function distinctCount(values: Float64Array, stopAt: number): number {
  const seen = new Set<number>();
  for (const v of values) {
    seen.add(v);
    if (seen.size > stopAt) break;
  }
  return seen.size;
}

/**
 * Bins a reference and a current numeric sample on common bins (see {@link Binning}) and returns
 * the shares of each. NaN and ±Infinity are dropped; empty input is `INVALID_INPUT`.
 *
 * @example
 * const { reference, current, edges } = binNumeric([1, 2, 3, 4], [3, 4, 5, 6], 'sturges');
 */
export function binNumeric(reference: NumericSample, current: NumericSample, binning: Binning = 'auto'): BinnedShares {
  const ref = cleanSample(reference, 'reference').values;
  const cur = cleanSample(current, 'current').values;
  let mode = binning;
  if (mode === 'auto') mode = distinctCount(ref, 20) > 20 ? 'sturges' : 'values';
  if (mode === 'values') {
    const keys = [...new Set([...ref, ...cur])].sort((a, b) => a - b);
    const index = new Map(keys.map((k, i) => [k, i]));
    const rc = new Array<number>(keys.length).fill(0);
    const cc = new Array<number>(keys.length).fill(0);
    for (const v of ref) rc[index.get(v) as number] = (rc[index.get(v) as number] as number) + 1;
    for (const v of cur) cc[index.get(v) as number] = (cc[index.get(v) as number] as number) + 1;
    return { reference: shares(rc), current: shares(cc), categories: keys.map(String) };
  }
  let edges: number[];
  let clamp = false;
  if (mode === 'sturges' || mode === 'doane') {
    const both = new Float64Array(ref.length + cur.length);
    both.set(ref);
    both.set(cur, ref.length);
    edges = mode === 'sturges' ? sturgesEdges(both) : doaneEdges(both);
  } else if (typeof mode === 'object' && 'quantiles' in mode) {
    edges = quantileEdges(ref, mode.quantiles);
    clamp = true;
  } else if (typeof mode === 'object' && 'edges' in mode) {
    edges = [...mode.edges];
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] as number) > (edges[i - 1] as number))) {
        throw new BallastError('INVALID_INPUT', 'bin edges must be strictly increasing');
      }
    }
  } else {
    throw new BallastError('INVALID_INPUT', `unknown binning ${JSON.stringify(binning)}`);
  }
  const rc = histogram(ref, edges, clamp);
  const cc = histogram(cur, edges, clamp);
  return { reference: shares(rc), current: shares(cc), edges };
}

/**
 * Bins two categorical samples on the union of their categories and returns the shares.
 *
 * @example
 * binCategorical(['a', 'a', 'b'], ['b', 'b', 'c']).categories; // ['a', 'b', 'c']
 */
export function binCategorical(reference: readonly unknown[], current: readonly unknown[]): BinnedShares {
  const all = categoryCounts([...reference, ...current]).categories;
  const rc = categoryCounts(reference, all);
  const cc = categoryCounts(current, all);
  return { reference: shares(rc.counts), current: shares(cc.counts), categories: all };
}
