import { BallastError, channels, type DriftEvent } from '@ballast/core';
import { histogram as countBins } from './binning.js';
import { chiSquareGoodnessOfFit } from './chi-square.js';
import { cramerVonMisesSorted } from './cramer-von-mises.js';
import { DDM, type DdmOptions } from './ddm.js';
import { hellinger, jensenShannon, klDivergence, psi, wassersteinSorted } from './distances.js';
import { ksSorted } from './ks.js';
import { type DriftProfile, type FeatureKind, type FeatureProfile, rowCount, type Table, toColumns } from './profile.js';
import { sortFloat64 } from './sort.js';

/** Tests a monitor can run per feature. `auto` picks one by the documented rule. */
export type DriftTestName =
  | 'auto'
  | 'ks'
  | 'cramer-von-mises'
  | 'wasserstein'
  | 'psi'
  | 'kl'
  | 'jensen-shannon'
  | 'hellinger'
  | 'chi-square';

/** Multiple-testing correction over the features' p-values in one window. */
export type Correction = 'bonferroni' | 'fdr' | 'none';

/** Window settings. Count windows close after `size` rows; time windows after `durationMs`. */
export interface WindowOptions {
  /**
   * Rows per window, at most {@link MAX_WINDOW_ROWS}. Default 500 when `durationMs` is not set.
   */
  size?: number;
  /** Window length in ms (closed lazily by the next row after it elapses, or by `flush()`). */
  durationMs?: number;
  /** Sliding windows: evaluate every `slide` rows over the last `size` rows. Default: tumbling. */
  slide?: number;
  /** Sliding time windows: evaluate every `slideMs` over the last `durationMs`. Default: tumbling. */
  slideMs?: number;
  /**
   * Rows kept at most (time windows keep the most recent), at most {@link MAX_WINDOW_ROWS}.
   * Default `size`, or 10000 for time windows.
   */
  maxRows?: number;
}

/**
 * The most rows a window may hold (`window.size` and `window.maxRows`). The monitor allocates its
 * ring up front (8 bytes a row per numeric feature), so a larger window fails with `CONFIG` at
 * construction instead of exhausting memory; summarise larger populations with several windows.
 */
export const MAX_WINDOW_ROWS = 1_000_000;

/** Accuracy tracking once labels arrive (`recordOutcome`). */
export interface AccuracyOptions {
  /** Predictions awaiting a label, at most (oldest dropped). Default 10000. */
  maxPending?: number;
  /** Settings of the DDM detector fed with errors. River's defaults. */
  detector?: DdmOptions;
}

/** Options of {@link DriftMonitor}. */
export interface DriftMonitorOptions {
  /** Name used in events and reports. Default `drift`. */
  name?: string;
  /** The reference profile (from `createProfile` or `parseProfile`). */
  reference: DriftProfile;
  /** Features to monitor. Default: every feature of the profile. */
  features?: readonly string[];
  /** Windowing. Default `{ size: 500 }` (tumbling windows of 500 rows). */
  window?: WindowOptions;
  /** Test for every feature, or per feature (missing ones use `auto`). Default `auto`. */
  test?: DriftTestName | Readonly<Record<string, DriftTestName>>;
  /**
   * Drift threshold, overall or per feature: the significance level for p-value tests (ks,
   * cramer-von-mises, chi-square; default 0.05, drifted when the corrected p-value is below it),
   * the score for distances (default 0.1 for every distance; drifted when the score is at least it).
   */
  threshold?: number | Readonly<Record<string, number>>;
  /** Correction of p-values across features. Default `bonferroni`. */
  correction?: Correction;
  /** Dataset drift when at least this share of features drifted. Default 0.5. */
  driftShare?: number;
  /** Windows with fewer rows are not evaluated by `flush()` or by time. Default 30. */
  minRows?: number;
  /** Called with every window result. */
  onResult?: (result: DriftResult) => void;
  /** Clock in ms (default `Date.now`); tests pass a fake. */
  now?: () => number;
  /** Accuracy tracking settings. */
  accuracy?: AccuracyOptions;
}

/** Bin shares of reference and current, for charts. */
export interface FeatureHistogram {
  /** Bin labels. */
  labels: string[];
  /** Reference share per bin. */
  reference: number[];
  /** Current share per bin. */
  current: number[];
}

/** One feature's verdict in a window. */
export interface FeatureDriftResult {
  /** Feature name. */
  feature: string;
  /** Numeric or categorical (from the profile). */
  kind: FeatureKind;
  /** Test used (never `auto`). */
  test: Exclude<DriftTestName, 'auto'>;
  /** Test statistic or distance. */
  statistic: number;
  /** p-value after correction (p-value tests only). */
  pValue?: number;
  /** p-value before correction. */
  rawPValue?: number;
  /** The threshold the verdict used. */
  threshold: number;
  /** The verdict. */
  drifted: boolean;
  /** Values of this feature in the window (finite / present). */
  windowSize: number;
  /** Missing or non-finite values dropped from the window. */
  dropped: number;
  /**
   * `ok`; `missing` when every value of the feature in the window was missing or non-finite (a
   * data-quality alert of its own: an upstream stopped sending the feature, not drift; published on
   * `ballast:drift` with test `missing`); `insufficient-data` when the window held some values but
   * too few to test. Neither counts as drifted.
   */
  status: 'ok' | 'missing' | 'insufficient-data';
  /** Reference vs current shares on the reference's bins. */
  histogram: FeatureHistogram;
}

/** Accuracy over recorded outcomes. */
export interface AccuracySummary {
  /** Outcomes recorded since the monitor started. */
  outcomes: number;
  /** Share of correct predictions (classifiers), or `undefined` before any outcome. */
  accuracy: number | undefined;
  /** Mean absolute error for numeric predictions. */
  meanAbsoluteError: number | undefined;
  /** Whether DDM has detected a rise of the error rate. */
  drifted: boolean;
}

/** A window's result. */
export interface DriftResult {
  /** Monitor name. */
  monitor: string;
  /** When the window was evaluated (ms). */
  at: number;
  /** Rows in the window. */
  windowRows: number;
  /** Per-feature results, in monitor order. */
  features: FeatureDriftResult[];
  /** Names of the drifted features. */
  driftedFeatures: string[];
  /** Names of the features whose every value was missing in the window (status `missing`). */
  missingFeatures: string[];
  /** Share of tested features that drifted. */
  share: number;
  /** The share at which the dataset counts as drifted. */
  driftShare: number;
  /** Dataset-level verdict. */
  datasetDrift: boolean;
  /** Correction used. */
  correction: Correction;
  /** Accuracy so far, when outcomes were recorded. */
  accuracy?: AccuracySummary;
}

const P_VALUE_TESTS = new Set(['ks', 'cramer-von-mises', 'chi-square']);
const TESTS = new Set(['auto', 'ks', 'cramer-von-mises', 'wasserstein', 'psi', 'kl', 'jensen-shannon', 'hellinger', 'chi-square']);

/**
 * The `auto` rule (after Evidently): with at most 1000 reference values, numeric features with more
 * than 5 distinct values get the KS test, others (and categorical features) chi-square; with more
 * reference values — where hypothesis tests flag even negligible differences — numeric features get
 * the normed Wasserstein distance and the others Jensen-Shannon, both with threshold 0.1.
 */
export function autoTest(profile: FeatureProfile): Exclude<DriftTestName, 'auto'> {
  const manyDistinct = profile.kind === 'numeric' && profile.distinct > 5;
  if (profile.count <= 1000) return manyDistinct ? 'ks' : 'chi-square';
  return manyDistinct ? 'wasserstein' : 'jensen-shannon';
}

interface Column {
  name: string;
  profile: FeatureProfile;
  test: Exclude<DriftTestName, 'auto'>;
  threshold: number;
  numeric: Float64Array | undefined;
  /** The reference sample, sorted once. */
  sortedSample: Float64Array | undefined;
  labels: (string | undefined)[] | undefined;
}

function formatEdge(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}

/** Benjamini-Hochberg adjusted p-values. */
function adjustFdr(p: number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => (p[a] as number) - (p[b] as number));
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const i = order[rank - 1] as number;
    running = Math.min(running, ((p[i] as number) * m) / rank);
    adjusted[i] = Math.min(running, 1);
  }
  return adjusted;
}

/**
 * Watches live rows against a reference profile in bounded memory: rows (or columns) go in, every
 * closed window gives a per-feature verdict (test, statistic, p-value or score, threshold), a
 * dataset-level drift share, a `ballast:drift` event per feature (when someone subscribes) and an
 * `onResult` callback. Model outputs are monitored as features (see `outputFeatures`), and accuracy
 * once labels arrive with {@link DriftMonitor.recordOutcome}.
 *
 * @example
 * const monitor = new DriftMonitor({
 *   reference: createProfile(rows2012),
 *   window: { size: 300 },
 *   onResult: (r) => r.datasetDrift && console.warn('drift in', r.driftedFeatures),
 * });
 * for (const row of liveRows) monitor.observe(row);
 */
export class DriftMonitor {
  /** Monitor name. */
  readonly name: string;
  /** The reference profile. */
  readonly reference: DriftProfile;
  readonly #columns: Column[];
  readonly #capacity: number;
  readonly #size: number | undefined;
  readonly #slide: number | undefined;
  readonly #durationMs: number | undefined;
  readonly #slideMs: number | undefined;
  readonly #correction: Correction;
  readonly #driftShare: number;
  readonly #minRows: number;
  readonly #onResult: ((result: DriftResult) => void) | undefined;
  readonly #now: () => number;
  readonly #times: Float64Array;
  #start = 0;
  #length = 0;
  #sinceEvaluation = 0;
  #lastEvaluationAt: number | undefined;
  #last: DriftResult | undefined;
  #windows = 0;
  // accuracy
  readonly #pending = new Map<string, string | number>();
  readonly #maxPending: number;
  readonly #ddm: DDM;
  #outcomes = 0;
  #correct = 0;
  #labelled = 0;
  #absoluteError = 0;
  #numericOutcomes = 0;
  #accuracyDrift = false;

  constructor(options: DriftMonitorOptions) {
    if (options === null || typeof options !== 'object') throw new BallastError('CONFIG', 'DriftMonitor needs options');
    const { name = 'drift', reference, correction = 'bonferroni', driftShare = 0.5, minRows = 30 } = options;
    if (reference === null || typeof reference !== 'object' || typeof reference.features !== 'object') {
      throw new BallastError('CONFIG', 'DriftMonitor needs a reference profile (createProfile or parseProfile)');
    }
    if (correction !== 'bonferroni' && correction !== 'fdr' && correction !== 'none') {
      throw new BallastError('CONFIG', `correction must be bonferroni, fdr or none, got ${String(correction)}`);
    }
    if (!(driftShare > 0 && driftShare <= 1)) throw new BallastError('CONFIG', 'driftShare must be in (0, 1]');
    if (!(Number.isInteger(minRows) && minRows >= 1)) throw new BallastError('CONFIG', 'minRows must be a positive integer');
    const window = options.window ?? {};
    const durationMs = window.durationMs;
    const size = window.size ?? (durationMs === undefined ? 500 : undefined);
    const checkPositive = (label: string, v: number | undefined): void => {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new BallastError('CONFIG', `window.${label} must be a positive number`);
    };
    checkPositive('size', size);
    checkPositive('durationMs', durationMs);
    checkPositive('slide', window.slide);
    checkPositive('slideMs', window.slideMs);
    checkPositive('maxRows', window.maxRows);
    if (size !== undefined && !Number.isInteger(size)) throw new BallastError('CONFIG', 'window.size must be an integer');
    for (const [label, v] of [
      ['size', size],
      ['maxRows', window.maxRows],
    ] as const) {
      if (v !== undefined && v > MAX_WINDOW_ROWS) {
        throw new BallastError('CONFIG', `window.${label} must be at most ${MAX_WINDOW_ROWS} rows, got ${v}`, {
          details: { [label]: v, max: MAX_WINDOW_ROWS },
        });
      }
    }
    this.#size = size;
    this.#slide = window.slide;
    this.#durationMs = durationMs;
    this.#slideMs = window.slideMs;
    this.#capacity = Math.floor(window.maxRows ?? size ?? 10000);
    if (size !== undefined && this.#capacity < size) throw new BallastError('CONFIG', 'window.maxRows must be >= window.size');
    this.name = name;
    this.reference = reference;
    this.#correction = correction;
    this.#driftShare = driftShare;
    this.#minRows = minRows;
    this.#onResult = options.onResult;
    this.#now = options.now ?? Date.now;
    this.#times = new Float64Array(this.#capacity);
    const names = options.features ?? Object.keys(reference.features);
    if (names.length === 0) throw new BallastError('CONFIG', 'no features to monitor');
    this.#columns = names.map((feature) => {
      const profile = reference.features[feature];
      if (!profile) throw new BallastError('CONFIG', `feature "${feature}" is not in the reference profile`);
      const chosen = typeof options.test === 'object' ? (options.test[feature] ?? 'auto') : (options.test ?? 'auto');
      if (!TESTS.has(chosen)) throw new BallastError('CONFIG', `unknown test "${String(chosen)}" for "${feature}"`);
      const test = chosen === 'auto' ? autoTest(profile) : chosen;
      if (
        profile.kind === 'categorical' &&
        test !== 'chi-square' &&
        test !== 'jensen-shannon' &&
        test !== 'psi' &&
        test !== 'kl' &&
        test !== 'hellinger'
      ) {
        throw new BallastError('CONFIG', `test "${test}" needs a numeric feature; "${feature}" is categorical`);
      }
      const configured = typeof options.threshold === 'object' ? options.threshold[feature] : options.threshold;
      const threshold = configured ?? (P_VALUE_TESTS.has(test) ? 0.05 : 0.1);
      if (!(Number.isFinite(threshold) && threshold > 0)) throw new BallastError('CONFIG', `threshold for "${feature}" must be positive`);
      return {
        name: feature,
        profile,
        test,
        threshold,
        numeric: profile.kind === 'numeric' ? new Float64Array(this.#capacity) : undefined,
        sortedSample: profile.kind === 'numeric' ? sortFloat64(Float64Array.from(profile.sample.filter(Number.isFinite))) : undefined,
        labels: profile.kind === 'categorical' ? new Array<string | undefined>(this.#capacity) : undefined,
      };
    });
    const accuracy = options.accuracy ?? {};
    this.#maxPending = accuracy.maxPending ?? 10000;
    this.#ddm = new DDM(accuracy.detector);
  }

  /** Rows currently in the window. */
  get windowRows(): number {
    return this.#length;
  }
  /** The last window's result. */
  get lastResult(): DriftResult | undefined {
    return this.#last;
  }
  /** Windows evaluated so far. */
  get windows(): number {
    return this.#windows;
  }
  /** The test chosen for each feature (after the `auto` rule). */
  get tests(): Record<string, Exclude<DriftTestName, 'auto'>> {
    return Object.fromEntries(this.#columns.map((c) => [c.name, c.test]));
  }

  /**
   * Adds one row (an object keyed by feature; missing keys count as missing values). Returns the
   * window result when this row closed a window.
   */
  observe(row: Readonly<Record<string, unknown>>): DriftResult | undefined {
    if (row === null || typeof row !== 'object') throw new BallastError('INVALID_INPUT', 'a row must be an object');
    const now = this.#now();
    let result = this.#beforeInsert(now);
    const slot = this.#slot(now);
    for (const column of this.#columns) store(column, slot, row[column.name]);
    result = this.#afterInsert(now) ?? result;
    return result;
  }

  /** Adds many rows; returns the results of the windows they closed. */
  observeRows(rows: readonly Readonly<Record<string, unknown>>[]): DriftResult[] {
    if (!Array.isArray(rows)) throw new BallastError('INVALID_INPUT', 'observeRows needs an array of row objects');
    const results: DriftResult[] = [];
    for (const row of rows) {
      const r = this.observe(row);
      if (r) results.push(r);
    }
    return results;
  }

  /**
   * Adds columns (feature → values, all the same length; typed arrays are fastest). Returns the
   * results of the windows they closed.
   */
  observeColumns(columns: Readonly<Record<string, ArrayLike<unknown>>>): DriftResult[] {
    if (columns === null || typeof columns !== 'object' || Array.isArray(columns)) {
      throw new BallastError('INVALID_INPUT', 'observeColumns needs an object of feature columns');
    }
    const map = toColumns(
      columns,
      this.#columns.map((c) => c.name),
    );
    const rows = rowCount(map.values());
    const results: DriftResult[] = [];
    const sources = this.#columns.map((c) => map.get(c.name) as ArrayLike<unknown>);
    for (let i = 0; i < rows; i++) {
      const now = this.#now();
      const before = this.#beforeInsert(now);
      if (before) results.push(before);
      const slot = this.#slot(now);
      for (let c = 0; c < this.#columns.length; c++) store(this.#columns[c] as Column, slot, (sources[c] as ArrayLike<unknown>)[i]);
      const after = this.#afterInsert(now);
      if (after) results.push(after);
    }
    return results;
  }

  /** Adds a table (rows or columns). */
  observeTable(table: Table): DriftResult[] {
    if (table === null || typeof table !== 'object')
      throw new BallastError('INVALID_INPUT', 'a table must be an array of rows or an object of columns');
    return Array.isArray(table)
      ? this.observeRows(table as readonly Readonly<Record<string, unknown>>[])
      : this.observeColumns(table as Readonly<Record<string, ArrayLike<unknown>>>);
  }

  /**
   * Evaluates the rows in the window now (when at least `minRows`), as if the window closed:
   * use it at shutdown, on a timer, or to test a fixed batch. Tumbling windows start afresh.
   */
  flush(): DriftResult | undefined {
    if (this.#length < this.#minRows) return undefined;
    const result = this.#evaluate(this.#now());
    if (this.#tumbling) this.#clear();
    return result;
  }

  /** Evaluates a batch of rows on its own, without touching the live window (batch checks, tests, demos). */
  check(table: Table): DriftResult {
    if (table === null || typeof table !== 'object')
      throw new BallastError('INVALID_INPUT', 'a table must be an array of rows or an object of columns');
    const rows = Array.isArray(table) ? table.length : rowCount(Object.values(table));
    if (rows > MAX_WINDOW_ROWS) {
      throw new BallastError('INVALID_INPUT', `check takes at most ${MAX_WINDOW_ROWS} rows, got ${rows}`, {
        details: { rows, max: MAX_WINDOW_ROWS },
      });
    }
    const copy = new DriftMonitor({
      name: this.name,
      reference: this.reference,
      features: this.#columns.map((c) => c.name),
      test: Object.fromEntries(this.#columns.map((c) => [c.name, c.test])),
      threshold: Object.fromEntries(this.#columns.map((c) => [c.name, c.threshold])),
      correction: this.#correction,
      driftShare: this.#driftShare,
      minRows: 1,
      window: { maxRows: Math.max(1, rows), durationMs: Number.MAX_SAFE_INTEGER },
      now: this.#now,
    });
    copy.observeTable(table);
    const result = copy.flush();
    if (!result) throw new BallastError('INVALID_INPUT', 'check needs at least one row');
    return result;
  }

  /**
   * Remembers a prediction until its label arrives ({@link DriftMonitor.recordOutcome}); at most
   * `accuracy.maxPending` are kept (the oldest are forgotten).
   */
  recordPrediction(id: string, prediction: string | number): void {
    if (typeof id !== 'string') throw new BallastError('INVALID_INPUT', 'prediction id must be a string');
    this.#pending.delete(id);
    this.#pending.set(id, prediction);
    if (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.keys().next().value as string;
      this.#pending.delete(oldest);
    }
  }

  /**
   * Records the true label of an earlier prediction: updates accuracy (or mean absolute error for
   * numeric predictions) and a DDM detector on the error stream; a detection is published on
   * `ballast:drift` as feature `__accuracy__`. Returns false when the id is unknown (never
   * recorded, or forgotten).
   */
  recordOutcome(id: string, label: string | number): boolean {
    const prediction = this.#pending.get(id);
    if (prediction === undefined) return false;
    this.#pending.delete(id);
    this.#outcomes++;
    let error: number;
    if (typeof prediction === 'number' && typeof label === 'number') {
      this.#numericOutcomes++;
      this.#absoluteError += Math.abs(prediction - label);
      return true;
    }
    this.#labelled++;
    if (String(prediction) === String(label)) {
      this.#correct++;
      error = 0;
    } else error = 1;
    if (this.#ddm.update(error).driftDetected) {
      this.#accuracyDrift = true;
      if (channels.drift.hasSubscribers) {
        const event: DriftEvent = {
          monitor: this.name,
          feature: '__accuracy__',
          test: 'ddm',
          statistic: this.#ddm.errorRate,
          threshold: this.#ddm.driftThreshold,
          drifted: true,
          windowSize: this.#labelled,
        };
        channels.drift.publish(event);
      }
    }
    return true;
  }

  /** Accuracy over the outcomes recorded so far. */
  get accuracy(): AccuracySummary {
    return {
      outcomes: this.#outcomes,
      accuracy: this.#labelled === 0 ? undefined : this.#correct / this.#labelled,
      meanAbsoluteError: this.#numericOutcomes === 0 ? undefined : this.#absoluteError / this.#numericOutcomes,
      drifted: this.#accuracyDrift,
    };
  }

  get #tumbling(): boolean {
    return this.#durationMs !== undefined ? this.#slideMs === undefined : this.#slide === undefined;
  }

  #clear(): void {
    this.#start = 0;
    this.#length = 0;
    this.#sinceEvaluation = 0;
  }

  /** Closes a time window that elapsed before this row arrived. */
  #beforeInsert(now: number): DriftResult | undefined {
    if (this.#durationMs === undefined) return undefined;
    if (this.#lastEvaluationAt === undefined) {
      this.#lastEvaluationAt = now;
      return undefined;
    }
    const step = this.#slideMs ?? this.#durationMs;
    if (now - this.#lastEvaluationAt < step) return undefined;
    // drop rows older than the window
    const oldest = now - this.#durationMs;
    while (this.#length > 0 && (this.#times[this.#start] as number) < oldest && this.#slideMs !== undefined) {
      this.#start = (this.#start + 1) % this.#capacity;
      this.#length--;
    }
    this.#lastEvaluationAt = now;
    const result = this.#length >= this.#minRows ? this.#evaluate(now) : undefined;
    if (this.#tumbling) this.#clear();
    return result;
  }

  #slot(now: number): number {
    let slot: number;
    if (this.#length < this.#capacity) {
      slot = (this.#start + this.#length) % this.#capacity;
      this.#length++;
    } else {
      // full: overwrite the oldest row (bounded memory whatever the stream length)
      slot = this.#start;
      this.#start = (this.#start + 1) % this.#capacity;
    }
    this.#times[slot] = now;
    this.#sinceEvaluation++;
    return slot;
  }

  #afterInsert(now: number): DriftResult | undefined {
    if (this.#size === undefined) return undefined;
    if (this.#length < this.#size || this.#sinceEvaluation < (this.#slide ?? this.#size)) return undefined;
    const result = this.#evaluate(now);
    this.#sinceEvaluation = 0;
    if (this.#durationMs !== undefined) this.#lastEvaluationAt = now;
    if (this.#tumbling) this.#clear();
    return result;
  }

  #evaluate(now: number): DriftResult {
    const rows = this.#length;
    const results: FeatureDriftResult[] = this.#columns.map((column) => this.#testColumn(column, rows));
    // Correction across the p-value tests of this window.
    const tested = results.filter((r) => r.rawPValue !== undefined);
    if (tested.length > 0) {
      const raw = tested.map((r) => r.rawPValue as number);
      const adjusted =
        this.#correction === 'bonferroni' ? raw.map((p) => Math.min(1, p * raw.length)) : this.#correction === 'fdr' ? adjustFdr(raw) : raw;
      tested.forEach((r, i) => {
        r.pValue = adjusted[i] as number;
        r.drifted = r.status === 'ok' && r.pValue < r.threshold;
      });
    }
    const ok = results.filter((r) => r.status === 'ok');
    const drifted = ok.filter((r) => r.drifted).map((r) => r.feature);
    const share = ok.length === 0 ? 0 : drifted.length / ok.length;
    const result: DriftResult = {
      monitor: this.name,
      at: now,
      windowRows: rows,
      features: results,
      driftedFeatures: drifted,
      missingFeatures: results.filter((r) => r.status === 'missing').map((r) => r.feature),
      share,
      driftShare: this.#driftShare,
      datasetDrift: ok.length > 0 && share >= this.#driftShare,
      correction: this.#correction,
      ...(this.#outcomes > 0 ? { accuracy: this.accuracy } : {}),
    };
    this.#last = result;
    this.#windows++;
    if (channels.drift.hasSubscribers) {
      for (const r of results) {
        if (r.status === 'missing') {
          // A data-quality alert: the statistic is the share of the window's rows missing the feature (1).
          const missing: DriftEvent = {
            monitor: this.name,
            feature: r.feature,
            test: 'missing',
            statistic: r.statistic,
            threshold: 1,
            drifted: false,
            windowSize: rows,
          };
          channels.drift.publish(missing);
          continue;
        }
        if (r.status !== 'ok') continue;
        const event: DriftEvent = {
          monitor: this.name,
          feature: r.feature,
          test: r.test,
          statistic: r.statistic,
          ...(r.pValue === undefined ? {} : { pValue: r.pValue }),
          threshold: r.threshold,
          drifted: r.drifted,
          windowSize: r.windowSize,
        };
        channels.drift.publish(event);
      }
      const dataset: DriftEvent = {
        monitor: this.name,
        feature: '__dataset__',
        test: 'drift-share',
        statistic: share,
        threshold: this.#driftShare,
        drifted: result.datasetDrift,
        windowSize: rows,
      };
      channels.drift.publish(dataset);
    }
    this.#onResult?.(result);
    return result;
  }

  #testColumn(column: Column, rows: number): FeatureDriftResult {
    const { profile, test, threshold, name } = column;
    const base = { feature: name, kind: profile.kind, test, threshold };
    if (profile.kind === 'numeric') {
      const values = new Float64Array(rows);
      let n = 0;
      const data = column.numeric as Float64Array;
      for (let i = 0; i < rows; i++) {
        const v = data[(this.#start + i) % this.#capacity] as number;
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
      const v = labels[(this.#start + i) % this.#capacity];
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
}

/** Writes one value of `column` into the ring at `slot`: non-numbers are missing (NaN) in numeric columns, labels are strings. */
function store(column: Column, slot: number, value: unknown): void {
  if (column.numeric) column.numeric[slot] = typeof value === 'number' ? value : Number.NaN;
  else (column.labels as (string | undefined)[])[slot] = value === null || value === undefined ? undefined : String(value);
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
