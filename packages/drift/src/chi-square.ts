import { BallastError } from '@ballast/core';
import { chiSquareSurvival } from './special.js';

/** Result of a chi-square test. */
export interface ChiSquareResult {
  /** Pearson's chi-square statistic. */
  statistic: number;
  /** The p-value, in [0, 1]. */
  pValue: number;
  /** Degrees of freedom. */
  dof: number;
}

/** Counts as an array or a record keyed by category. */
export type Counts = readonly number[] | Readonly<Record<string, number>>;

function toCountArrays(reference: Counts, current: Counts): [number[], number[]] {
  if (Array.isArray(reference) !== Array.isArray(current)) {
    throw new BallastError('INVALID_INPUT', 'reference and current counts must both be arrays or both be records');
  }
  let ref: number[];
  let cur: number[];
  if (Array.isArray(reference)) {
    ref = [...(reference as readonly number[])];
    cur = [...(current as readonly number[])];
    if (ref.length !== cur.length) {
      throw new BallastError('INVALID_INPUT', 'reference and current counts must have the same length');
    }
  } else {
    const r = reference as Record<string, number>;
    const c = current as Record<string, number>;
    const keys = [...new Set([...Object.keys(r), ...Object.keys(c)])].sort();
    ref = keys.map((key) => r[key] ?? 0);
    cur = keys.map((key) => c[key] ?? 0);
  }
  for (const v of [...ref, ...cur]) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new BallastError('INVALID_INPUT', 'counts must be finite, non-negative numbers');
    }
  }
  return [ref, cur];
}

/**
 * Chi-square goodness of fit of the current counts against the reference distribution, as
 * `scipy.stats.chisquare(current, reference * sum(current) / sum(reference))`. Categories empty in
 * both are ignored; a category seen now but never in the reference gives an infinite statistic and
 * p-value 0. dof = categories - 1.
 *
 * @example
 * chiSquareGoodnessOfFit([50, 30, 20], [20, 30, 50]); // { statistic: 63, pValue: ~2e-14, dof: 2 }
 */
export function chiSquareGoodnessOfFit(referenceCounts: Counts, currentCounts: Counts): ChiSquareResult {
  const [refAll, curAll] = toCountArrays(referenceCounts, currentCounts);
  const ref: number[] = [];
  const cur: number[] = [];
  for (let i = 0; i < refAll.length; i++) {
    if ((refAll[i] as number) > 0 || (curAll[i] as number) > 0) {
      ref.push(refAll[i] as number);
      cur.push(curAll[i] as number);
    }
  }
  const refTotal = ref.reduce((s, v) => s + v, 0);
  const curTotal = cur.reduce((s, v) => s + v, 0);
  if (refTotal === 0 || curTotal === 0) {
    throw new BallastError('INVALID_INPUT', 'chi-square needs non-zero reference and current totals');
  }
  const dof = ref.length - 1;
  if (dof < 1) return { statistic: 0, pValue: 1, dof: 0 };
  let statistic = 0;
  for (let i = 0; i < ref.length; i++) {
    const expected = ((ref[i] as number) * curTotal) / refTotal;
    const diff = (cur[i] as number) - expected;
    statistic += expected === 0 ? Number.POSITIVE_INFINITY : (diff * diff) / expected;
  }
  return { statistic, pValue: chiSquareSurvival(statistic, dof), dof };
}

/**
 * Chi-square test of independence on a contingency table (rows × columns of counts), as
 * `scipy.stats.chi2_contingency`, with Yates' continuity correction only when dof = 1. Columns
 * (and rows) that are all zero are dropped first.
 *
 * @example
 * chiSquareContingency([[50, 30, 20], [40, 35, 25]]);
 */
export function chiSquareContingency(table: readonly (readonly number[])[]): ChiSquareResult {
  if (!Array.isArray(table) || table.length === 0 || !Array.isArray(table[0])) {
    throw new BallastError('INVALID_INPUT', 'contingency table must be a non-empty array of rows');
  }
  const width = (table[0] as readonly number[]).length;
  for (const row of table) {
    if (!Array.isArray(row) || row.length !== width) {
      throw new BallastError('INVALID_INPUT', 'contingency table rows must have the same length');
    }
    for (const v of row) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new BallastError('INVALID_INPUT', 'contingency counts must be finite, non-negative numbers');
      }
    }
  }
  const keepColumns: number[] = [];
  for (let c = 0; c < width; c++) if (table.some((row) => (row[c] as number) > 0)) keepColumns.push(c);
  const rows = table.map((row) => keepColumns.map((c) => row[c] as number)).filter((row) => row.some((v) => v > 0));
  if (rows.length === 0 || keepColumns.length === 0) {
    throw new BallastError('INVALID_INPUT', 'contingency table has no counts');
  }
  const r = rows.length;
  const k = keepColumns.length;
  const dof = (r - 1) * (k - 1);
  if (dof === 0) return { statistic: 0, pValue: 1, dof: 0 };
  const rowSums = rows.map((row) => row.reduce((s, v) => s + v, 0));
  const colSums = keepColumns.map((_, c) => rows.reduce((s, row) => s + (row[c] as number), 0));
  const total = rowSums.reduce((s, v) => s + v, 0);
  let statistic = 0;
  for (let i = 0; i < r; i++) {
    for (let c = 0; c < k; c++) {
      const expected = ((rowSums[i] as number) * (colSums[c] as number)) / total;
      let observed = (rows[i] as number[])[c] as number;
      if (dof === 1) {
        const diff = expected - observed;
        observed += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      const d = observed - expected;
      statistic += (d * d) / expected;
    }
  }
  return { statistic, pValue: chiSquareSurvival(statistic, dof), dof };
}
