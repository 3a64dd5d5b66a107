import type { DdmOptions } from './ddm.js';
import type { DriftProfile, FeatureKind } from './profile.js';

/*
 * The shapes a DriftMonitor takes and gives: its options (windows, tests, thresholds,
 * corrections, accuracy) and its window results.
 */

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
