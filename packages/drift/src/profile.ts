import { BallastError, seededRandom } from '@ballast/core';
import { quantileSorted } from './binning.js';

/** Kind of a feature: numbers, or labels compared by category. */
export type FeatureKind = 'numeric' | 'categorical';

/** A numeric feature's reference summary. */
export interface NumericFeatureProfile {
  kind: 'numeric';
  /** Finite values seen. */
  count: number;
  /** Missing, NaN, ±Infinity or non-numeric values dropped. */
  missing: number;
  /** Mean of the finite values. */
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Smallest finite value. */
  min: number;
  /** Largest finite value. */
  max: number;
  /** Distinct values, counted up to 21 (21 means "more than 20"). */
  distinct: number;
  /** Quantiles at 1, 5, 10, 25, 50, 75, 90, 95, 99 % (from the reservoir sample). */
  quantiles: Record<string, number>;
  /**
   * Histogram of all finite values: Sturges edges over the reference, or one bin per distinct
   * value (`values`) when there are at most 20.
   */
  histogram: { edges: number[]; counts: number[] } | { values: number[]; counts: number[] };
  /** A uniform sample of at most `reservoirSize` values (all of them when fewer): the KS / CvM reference. */
  sample: number[];
}

/** A categorical feature's reference summary. */
export interface CategoricalFeatureProfile {
  kind: 'categorical';
  /** Values seen. */
  count: number;
  /** Missing (null, undefined, NaN) values dropped. */
  missing: number;
  /** Count per category (values are converted with `String`). */
  counts: Record<string, number>;
}

/** A feature's reference summary. */
export type FeatureProfile = NumericFeatureProfile | CategoricalFeatureProfile;

/** A JSON-serializable reference profile: save it with `JSON.stringify`, load it with {@link parseProfile}. */
export interface DriftProfile {
  /** Format version. */
  version: 1;
  /** ISO time of creation. */
  createdAt: string;
  /** Rows profiled. */
  rows: number;
  /** Per-feature summaries. */
  features: Record<string, FeatureProfile>;
}

/** Options of {@link createProfile}. */
export interface CreateProfileOptions {
  /**
   * Which features to profile: names (kind inferred: numeric when every present value is a
   * number, else categorical) or a record of name → kind. Default: every key of the first row.
   */
  features?: readonly string[] | Readonly<Record<string, FeatureKind>>;
  /** Size of the bounded reservoir sample kept per numeric feature. Default 5000. */
  reservoirSize?: number;
  /** Seed of the reservoir sampling. Default 1. */
  seed?: number;
}

/** Rows (objects) or columns (name → values). */
export type Table = readonly Readonly<Record<string, unknown>>[] | Readonly<Record<string, ArrayLike<unknown>>>;

/** @internal Reads a table as columns without copying column input. */
export function toColumns(table: Table, names?: readonly string[]): Map<string, ArrayLike<unknown>> {
  const columns = new Map<string, ArrayLike<unknown>>();
  if (Array.isArray(table)) {
    const rows = table as readonly Readonly<Record<string, unknown>>[];
    const keys = names ?? (rows.length > 0 ? Object.keys(rows[0] as object) : []);
    for (const key of keys)
      columns.set(
        key,
        rows.map((row) => (row === null || typeof row !== 'object' ? undefined : row[key])),
      );
    return columns;
  }
  if (table === null || typeof table !== 'object') {
    throw new BallastError('INVALID_INPUT', 'expected an array of rows or an object of columns');
  }
  const record = table as Readonly<Record<string, ArrayLike<unknown>>>;
  for (const key of names ?? Object.keys(record)) {
    const column = record[key];
    if (column === undefined) columns.set(key, []);
    else if (typeof column !== 'object' || typeof column.length !== 'number') {
      throw new BallastError('INVALID_INPUT', `column "${key}" must be an array`);
    } else columns.set(key, column);
  }
  return columns;
}

/** @internal Rows of a table given as columns: the longest column (columns may differ in length; missing ones count as empty). */
export function rowCount(columns: Iterable<ArrayLike<unknown> | null | undefined>): number {
  let rows = 0;
  for (const values of columns) rows = Math.max(rows, values?.length ?? 0);
  return rows;
}

/** @internal Numeric when every present value is a finite-or-NaN number. */
export function inferKind(values: ArrayLike<unknown>): FeatureKind {
  let seen = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number') return 'categorical';
    seen = true;
  }
  return seen || values.length === 0 ? 'numeric' : 'categorical';
}

const QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];

function profileNumeric(values: ArrayLike<unknown>, reservoirSize: number, random: () => number): NumericFeatureProfile {
  let count = 0;
  let missing = 0;
  let mean = 0;
  let m2 = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const sample: number[] = [];
  const distinct = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      missing++;
      continue;
    }
    count++;
    const d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
    if (distinct.size <= 20) distinct.add(v);
    // Algorithm R: a uniform sample of bounded size whatever the number of rows.
    if (sample.length < reservoirSize) sample.push(v);
    else {
      const j = Math.floor(random() * count);
      if (j < reservoirSize) sample[j] = v;
    }
  }
  if (count === 0) {
    throw new BallastError('INVALID_INPUT', 'a numeric feature needs at least one finite value', {
      details: { missing },
    });
  }
  const sorted = Float64Array.from(sample).sort();
  const quantiles: Record<string, number> = {};
  for (const q of QUANTILES) quantiles[`p${Math.round(q * 100)}`] = quantileSorted(sorted, q);
  let histogram: NumericFeatureProfile['histogram'];
  if (distinct.size <= 20) {
    const keys = [...distinct].sort((a, b) => a - b);
    const index = new Map(keys.map((k, i) => [k, i]));
    const counts = new Array<number>(keys.length).fill(0);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const bin = index.get(v) as number;
      counts[bin] = (counts[bin] as number) + 1;
    }
    histogram = { values: keys, counts };
  } else {
    const width = (max - min) / (Math.log2(count) + 1);
    const bins = Math.max(1, Math.ceil((max - min) / width));
    const edges: number[] = [];
    for (let i = 0; i <= bins; i++) edges.push(min + (i * (max - min)) / bins);
    edges[bins] = max;
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const bin = Math.min(bins - 1, Math.floor(((v - min) / (max - min)) * bins));
      counts[bin] = (counts[bin] as number) + 1;
    }
    histogram = { edges, counts };
  }
  return {
    kind: 'numeric',
    count,
    missing,
    mean,
    std: Math.sqrt(m2 / count),
    min,
    max,
    distinct: distinct.size,
    quantiles,
    histogram,
    sample,
  };
}

function profileCategorical(values: ArrayLike<unknown>): CategoricalFeatureProfile {
  const counts: Record<string, number> = {};
  let count = 0;
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) {
      missing++;
      continue;
    }
    const key = String(v);
    counts[key] = (counts[key] ?? 0) + 1;
    count++;
  }
  if (count === 0) throw new BallastError('INVALID_INPUT', 'a categorical feature needs at least one value');
  return { kind: 'categorical', count, missing, counts };
}

/**
 * Builds a reference profile from rows (or columns): per feature the kind, counts, moments,
 * quantiles, a histogram (or category counts) and, for numeric features, a bounded reservoir
 * sample for KS / Cramér-von Mises. The profile is plain JSON: store it and load it with
 * {@link parseProfile}.
 *
 * @example
 * const profile = createProfile(rows2012, { features: ['temp_max', 'temp_min', 'wind', 'weather'] });
 * await writeFile('profile.json', JSON.stringify(profile));
 */
export function createProfile(table: Table, options: CreateProfileOptions = {}): DriftProfile {
  const { reservoirSize = 5000, seed = 1 } = options;
  if (!Number.isInteger(reservoirSize) || reservoirSize < 10) {
    throw new BallastError('CONFIG', 'reservoirSize must be an integer >= 10');
  }
  const declared = options.features;
  const names = declared === undefined ? undefined : Array.isArray(declared) ? (declared as string[]) : Object.keys(declared);
  const columns = toColumns(table, names);
  if (columns.size === 0) throw new BallastError('INVALID_INPUT', 'no features to profile');
  const random = seededRandom(seed);
  const features: Record<string, FeatureProfile> = {};
  for (const [name, values] of columns) {
    const kind = declared !== undefined && !Array.isArray(declared) ? (declared as Record<string, FeatureKind>)[name] : inferKind(values);
    if (kind !== 'numeric' && kind !== 'categorical') {
      throw new BallastError('CONFIG', `feature "${name}" has unknown kind "${String(kind)}"`);
    }
    try {
      features[name] = kind === 'numeric' ? profileNumeric(values, reservoirSize, random) : profileCategorical(values);
    } catch (error) {
      throw new BallastError('INVALID_INPUT', `feature "${name}": ${(error as Error).message}`, {
        cause: error,
        details: { feature: name },
      });
    }
  }
  return { version: 1, createdAt: new Date().toISOString(), rows: rowCount(columns.values()), features };
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/**
 * Validates and returns a profile read from JSON (a string or a parsed object). A profile file
 * crosses a trust boundary, so every field the monitor relies on is checked; problems are
 * `INVALID_INPUT` with the failing feature in `details`.
 *
 * @example
 * const profile = parseProfile(await readFile('profile.json', 'utf8'));
 */
export function parseProfile(input: string | unknown): DriftProfile {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new BallastError('INVALID_INPUT', 'profile is not valid JSON', { cause: error });
    }
  }
  const fail = (message: string, feature?: string): never => {
    throw new BallastError('INVALID_INPUT', `invalid profile: ${message}`, {
      details: feature === undefined ? {} : { feature },
    });
  };
  if (value === null || typeof value !== 'object') return fail('not an object');
  const profile = value as Partial<DriftProfile>;
  if (profile.version !== 1) fail('unsupported version');
  if (typeof profile.rows !== 'number' || profile.rows < 0) fail('rows must be a number');
  if (profile.features === null || typeof profile.features !== 'object') return fail('features missing');
  for (const [name, feature] of Object.entries(profile.features as Record<string, unknown>)) {
    if (feature === null || typeof feature !== 'object') fail('feature is not an object', name);
    const f = feature as FeatureProfile;
    if (typeof f.count !== 'number' || f.count < 1) fail('count must be >= 1', name);
    if (f.kind === 'numeric') {
      if (!isNumberArray(f.sample) || f.sample.length === 0) fail('sample must be a non-empty number array', name);
      for (const key of ['mean', 'std', 'min', 'max'] as const) {
        if (typeof f[key] !== 'number' || !Number.isFinite(f[key])) fail(`${key} must be a finite number`, name);
      }
      const h = f.histogram as { edges?: unknown; values?: unknown; counts?: unknown };
      if (h === null || typeof h !== 'object' || !isNumberArray(h.counts)) fail('histogram counts missing', name);
      const axis = 'edges' in h ? h.edges : h.values;
      if (!isNumberArray(axis)) fail('histogram edges or values missing', name);
      const expected = 'edges' in h ? (axis as number[]).length - 1 : (axis as number[]).length;
      if ((h.counts as number[]).length !== expected) fail('histogram counts do not match its bins', name);
    } else if (f.kind === 'categorical') {
      if (f.counts === null || typeof f.counts !== 'object') fail('counts missing', name);
      for (const c of Object.values(f.counts)) if (typeof c !== 'number' || c < 0) fail('counts must be >= 0', name);
    } else {
      fail('kind must be numeric or categorical', name);
    }
  }
  return profile as DriftProfile;
}
