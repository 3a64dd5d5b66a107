import { histogram as countBins } from './binning.js';
import { chiSquareGoodnessOfFit } from './chi-square.js';
import { cramerVonMisesSorted } from './cramer-von-mises.js';
import { hellinger, jensenShannon, klDivergence, psi, wassersteinSorted } from './distances.js';
import { ksSorted } from './ks.js';
import type { DriftTestName, FeatureDriftResult, FeatureHistogram } from './monitor-types.js';
import type { FeatureProfile } from './profile.js';
import { sortFloat64 } from './sort.js';

/*
 * One monitored feature: its slice of the window's ring (a Float64Array for numeric features,
 * labels for categorical ones), the reference it is tested against, and the test itself.
 */

/** A monitored feature, its test and its values in the window's ring. */
export interface Column {
  name: string;
  profile: FeatureProfile;
  test: Exclude<DriftTestName, 'auto'>;
  threshold: number;
  numeric: Float64Array | undefined;
  /** The reference sample, sorted once. */
  sortedSample: Float64Array | undefined;
  labels: (string | undefined)[] | undefined;
}

/** A column of `capacity` rows for a feature of the reference profile. */
export function createColumn(
  name: string,
  profile: FeatureProfile,
  test: Exclude<DriftTestName, 'auto'>,
  threshold: number,
  capacity: number,
): Column {
  return {
    name,
    profile,
    test,
    threshold,
    numeric: profile.kind === 'numeric' ? new Float64Array(capacity) : undefined,
    sortedSample: profile.kind === 'numeric' ? sortFloat64(Float64Array.from(profile.sample.filter(Number.isFinite))) : undefined,
    labels: profile.kind === 'categorical' ? new Array<string | undefined>(capacity) : undefined,
  };
}

/** Writes one value of `column` into the ring at `slot`: non-numbers are missing (NaN) in numeric columns, labels are strings. */
export function store(column: Column, slot: number, value: unknown): void {
  if (column.numeric) column.numeric[slot] = typeof value === 'number' ? value : Number.NaN;
  else (column.labels as (string | undefined)[])[slot] = value === null || value === undefined ? undefined : String(value);
}

/**
 * Tests one feature over the window's `rows` rows, read from the column's ring from `start`
 * (wrapping at `capacity`): the verdict before correction, the histogram, and the status (`missing`
 * when no value was present, `insufficient-data` when too few were).
 */
export function testColumn(column: Column, start: number, capacity: number, rows: number): FeatureDriftResult {
  const { profile, test, threshold, name } = column;
  const base = { feature: name, kind: profile.kind, test, threshold };
  if (profile.kind === 'numeric') {
    const values = new Float64Array(rows);
    let n = 0;
    const data = column.numeric as Float64Array;
    for (let i = 0; i < rows; i++) {
      const v = data[(start + i) % capacity] as number;
      if (Number.isFinite(v)) values[n++] = v;
    }
    const current = values.subarray(0, n);
    const hist = numericHistogram(profile, current);
    const common = { ...base, windowSize: n, dropped: rows - n, histogram: hist.chart };
    if (n === 0) return { ...common, statistic: 1, drifted: false, status: 'missing' };
    if (n < (test === 'cramer-von-mises' ? 2 : 1)) {
      return { ...common, statistic: 0, drifted: false, status: 'insufficient-data' };
    }
    const sortedSample = column.sortedSample as Float64Array;
    switch (test) {
      case 'ks': {
        const r = ksSorted(sortedSample, sortFloat64(current));
        return { ...common, statistic: r.statistic, rawPValue: r.pValue, drifted: false, status: 'ok' };
      }
      case 'cramer-von-mises': {
        if (sortedSample.length < 2) return { ...common, statistic: 0, drifted: false, status: 'insufficient-data' };
        const r = cramerVonMisesSorted(sortedSample, sortFloat64(current));
        return { ...common, statistic: r.statistic, rawPValue: r.pValue, drifted: false, status: 'ok' };
      }
      case 'wasserstein': {
        const score = wassersteinSorted(sortedSample, sortFloat64(current)) / Math.max(profile.std, 0.001);
        return { ...common, statistic: score, drifted: score >= threshold, status: 'ok' };
      }
      case 'chi-square': {
        const r = chiSquareGoodnessOfFit(hist.referenceCounts, hist.currentCounts);
        return { ...common, statistic: r.statistic, rawPValue: r.pValue, drifted: false, status: 'ok' };
      }
      default: {
        const score = distance(test, hist.chart.reference, hist.chart.current);
        return { ...common, statistic: score, drifted: score >= threshold, status: 'ok' };
      }
    }
  }
  const labels = column.labels as (string | undefined)[];
  const counts = new Map<string, number>();
  let n = 0;
  for (let i = 0; i < rows; i++) {
    const v = labels[(start + i) % capacity];
    if (v === undefined) continue;
    counts.set(v, (counts.get(v) ?? 0) + 1);
    n++;
  }
  const categories = [...new Set([...Object.keys(profile.counts), ...counts.keys()])].sort();
  const referenceCounts = categories.map((c) => profile.counts[c] ?? 0);
  const currentCounts = categories.map((c) => counts.get(c) ?? 0);
  const chart: FeatureHistogram = {
    labels: categories,
    reference: referenceCounts.map((c) => c / profile.count),
    current: currentCounts.map((c) => (n === 0 ? 0 : c / n)),
  };
  const common = { ...base, windowSize: n, dropped: rows - n, histogram: chart };
  if (n === 0) return { ...common, statistic: 1, drifted: false, status: 'missing' };
  if (test === 'chi-square') {
    const r = chiSquareGoodnessOfFit(referenceCounts, currentCounts);
    return { ...common, statistic: r.statistic, rawPValue: r.pValue, drifted: false, status: 'ok' };
  }
  const score = distance(test, chart.reference, chart.current);
  return { ...common, statistic: score, drifted: score >= threshold, status: 'ok' };
}

function formatEdge(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}

function distance(test: string, reference: number[], current: number[]): number {
  switch (test) {
    case 'psi':
      return psi(reference, current);
    case 'kl':
      return klDivergence(reference, current);
    case 'hellinger':
      return hellinger(reference, current);
    default:
      return jensenShannon(reference, current);
  }
}

/** Reference vs current on the reference's bins; current values outside fall in the end bins (or an "other" bin). */
function numericHistogram(
  profile: Extract<FeatureProfile, { kind: 'numeric' }>,
  current: Float64Array,
): { chart: FeatureHistogram; referenceCounts: number[]; currentCounts: number[] } {
  const h = profile.histogram;
  const referenceTotal = h.counts.reduce((s, v) => s + v, 0);
  if ('edges' in h) {
    const currentCounts = countBins(current, h.edges, true);
    const labels = h.counts.map((_, i) => `${formatEdge(h.edges[i] as number)}–${formatEdge(h.edges[i + 1] as number)}`);
    return {
      chart: {
        labels,
        reference: h.counts.map((c) => c / referenceTotal),
        current: currentCounts.map((c) => (current.length === 0 ? 0 : c / current.length)),
      },
      referenceCounts: h.counts,
      currentCounts,
    };
  }
  const index = new Map(h.values.map((v, i) => [v, i]));
  const currentCounts = new Array<number>(h.values.length + 1).fill(0);
  for (const v of current) {
    const i = index.get(v) ?? h.values.length;
    currentCounts[i] = (currentCounts[i] as number) + 1;
  }
  const hasOther = (currentCounts[h.values.length] as number) > 0;
  const referenceCounts = [...h.counts, 0];
  const labels = [...h.values.map(formatEdge), 'other'];
  const keep = hasOther ? labels.length : labels.length - 1;
  return {
    chart: {
      labels: labels.slice(0, keep),
      reference: referenceCounts.slice(0, keep).map((c) => c / referenceTotal),
      current: currentCounts.slice(0, keep).map((c) => (current.length === 0 ? 0 : c / current.length)),
    },
    referenceCounts: referenceCounts.slice(0, keep),
    currentCounts: currentCounts.slice(0, keep),
  };
}
