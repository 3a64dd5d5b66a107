import { BallastError, parseOptions } from '@ballast/core';
import { AccuracyTracker } from './accuracy-tracker.js';
import { applyCorrection } from './corrections.js';
import { publishWindowEvents } from './drift-events.js';
import { type Column, createColumn, store, testColumn } from './feature-column.js';
import { driftMonitorOptionsSchema } from './monitor-options.js';
import {
  type AccuracySummary,
  type Correction,
  type DriftMonitorOptions,
  type DriftResult,
  type DriftTestName,
  type FeatureDriftResult,
  MAX_WINDOW_ROWS,
} from './monitor-types.js';
import { type DriftProfile, rowCount, type Table, toColumns } from './profile.js';
import { RowWindow } from './row-window.js';
import { chooseTest } from './test-choice.js';

/*
 * The monitor ties the parts together: the window (row-window.ts), one column per feature and its
 * test (feature-column.ts, chosen by test-choice.ts), the correction across features
 * (corrections.ts), the events (drift-events.ts) and accuracy (accuracy-tracker.ts).
 */

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
  readonly #window: RowWindow;
  readonly #correction: Correction;
  readonly #driftShare: number;
  readonly #minRows: number;
  readonly #onResult: ((result: DriftResult) => void) | undefined;
  readonly #now: () => number;
  readonly #accuracy: AccuracyTracker;
  #last: DriftResult | undefined;
  #windows = 0;

  constructor(given: DriftMonitorOptions) {
    const options = parseOptions('DriftMonitor', driftMonitorOptionsSchema, given) as DriftMonitorOptions;
    const { name = 'drift', reference, correction = 'bonferroni', driftShare = 0.5, minRows = 30 } = options;
    this.#window = new RowWindow(options.window);
    this.name = name;
    this.reference = reference;
    this.#correction = correction;
    this.#driftShare = driftShare;
    this.#minRows = minRows;
    this.#onResult = options.onResult;
    this.#now = options.now ?? Date.now;
    const names = options.features ?? Object.keys(reference.features);
    if (names.length === 0) throw new BallastError('CONFIG', 'no features to monitor');
    this.#columns = names.map((feature) => {
      const profile = reference.features[feature];
      if (!profile) throw new BallastError('CONFIG', `feature "${feature}" is not in the reference profile`);
      const { test, threshold } = chooseTest(feature, profile, options);
      return createColumn(feature, profile, test, threshold, this.#window.capacity);
    });
    this.#accuracy = new AccuracyTracker(options.accuracy);
  }

  /** Rows currently in the window. */
  get windowRows(): number {
    return this.#window.length;
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
    const slot = this.#window.slot(now);
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
      const slot = this.#window.slot(now);
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
    if (this.#window.length < this.#minRows) return undefined;
    const result = this.#evaluate(this.#now());
    this.#window.closed();
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
    this.#accuracy.recordPrediction(id, prediction);
  }

  /**
   * Records the true label of an earlier prediction: updates accuracy (or mean absolute error for
   * numeric predictions) and a DDM detector on the error stream; a detection is published on
   * `ballast:drift` as feature `__accuracy__`. Returns false when the id is unknown (never
   * recorded, or forgotten).
   */
  recordOutcome(id: string, label: string | number): boolean {
    return this.#accuracy.recordOutcome(this.name, id, label);
  }

  /** Accuracy over the outcomes recorded so far. */
  get accuracy(): AccuracySummary {
    return this.#accuracy.summary;
  }

  /** Closes a time window that elapsed before this row arrived. */
  #beforeInsert(now: number): DriftResult | undefined {
    if (!this.#window.elapsedBefore(now)) return undefined;
    const result = this.#window.length >= this.#minRows ? this.#evaluate(now) : undefined;
    this.#window.closed();
    return result;
  }

  /** Closes a count window this row completed. */
  #afterInsert(now: number): DriftResult | undefined {
    if (!this.#window.countReached) return undefined;
    const result = this.#evaluate(now);
    this.#window.evaluated(now);
    return result;
  }

  #evaluate(now: number): DriftResult {
    const { start, capacity, length: rows } = this.#window;
    const results: FeatureDriftResult[] = this.#columns.map((column) => testColumn(column, start, capacity, rows));
    applyCorrection(results, this.#correction);
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
      ...(this.#accuracy.outcomes > 0 ? { accuracy: this.accuracy } : {}),
    };
    this.#last = result;
    this.#windows++;
    publishWindowEvents(result);
    this.#onResult?.(result);
    return result;
  }
}
