/** @packageDocumentation Drift detection: scipy-exact statistical tests, reference profiles, streaming monitors, online detectors and reports */

export type { AdwinOptions } from './adwin.js';
export { ADWIN } from './adwin.js';
export type { BinnedShares, Binning } from './binning.js';
export {
  binCategorical,
  binNumeric,
  categoryCounts,
  doaneEdges,
  histogram,
  quantileEdges,
  shares,
  sturgesEdges,
} from './binning.js';
export type { ChiSquareResult, Counts } from './chi-square.js';
export { chiSquareContingency, chiSquareGoodnessOfFit } from './chi-square.js';
export type { CramerVonMisesOptions } from './cramer-von-mises.js';
export { cramerVonMises } from './cramer-von-mises.js';
export type { DdmOptions } from './ddm.js';
export { DDM } from './ddm.js';
export type { DriftDetector } from './detector.js';
export type {
  BinnedDistanceOptions,
  BinnedDistanceResult,
  BinnedMetric,
  JensenShannonOptions,
  WassersteinOptions,
} from './distances.js';
export {
  binnedDistance,
  fillEmptyBins,
  hellinger,
  jensenShannon,
  klDivergence,
  psi,
  wassersteinDistance,
} from './distances.js';
export type { NumericSample } from './input.js';
export type { KsTestOptions, KsTestResult, TestResult } from './ks.js';
export { ksTest } from './ks.js';
export type { KswinOptions } from './kswin.js';
export { KSWIN } from './kswin.js';
export type { DriftMiddleware, DriftMiddlewareOptions } from './middleware.js';
export { driftMiddleware } from './middleware.js';
export { DriftMonitor } from './monitor.js';
export type {
  AccuracyOptions,
  AccuracySummary,
  Correction,
  DriftMonitorOptions,
  DriftResult,
  DriftTestName,
  FeatureDriftResult,
  FeatureHistogram,
  WindowOptions,
} from './monitor-types.js';
export { MAX_WINDOW_ROWS } from './monitor-types.js';
export type { OutputFeaturesOptions } from './outputs.js';
export { OUTPUT_FEATURES, outputFeatures } from './outputs.js';
export type { PageHinkleyOptions } from './page-hinkley.js';
export { PageHinkley } from './page-hinkley.js';
export type {
  CategoricalFeatureProfile,
  CreateProfileOptions,
  DriftProfile,
  FeatureKind,
  FeatureProfile,
  NumericFeatureProfile,
  Table,
} from './profile.js';
export { createProfile, parseProfile } from './profile.js';
export type { DriftReport, DriftReportOptions } from './report.js';
export { renderDriftReport } from './report.js';
export { autoTest } from './test-choice.js';
