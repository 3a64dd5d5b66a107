import { BallastError } from '@ballast/core';
import type { DriftMonitorOptions, DriftTestName } from './monitor-types.js';
import type { FeatureProfile } from './profile.js';

/** The tests whose verdict is a (corrected) p-value below the threshold; the others are distances. */
export const P_VALUE_TESTS: ReadonlySet<string> = new Set(['ks', 'cramer-von-mises', 'chi-square']);
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

/**
 * The test and threshold a monitor uses for one feature: the configured test (or the `auto` rule),
 * checked against the feature's kind, and the configured threshold or the test's default (0.05 for
 * p-value tests, 0.1 for distances). Throws `CONFIG` for an unknown test, a numeric test on a
 * categorical feature, or a threshold that is not positive.
 */
export function chooseTest(
  feature: string,
  profile: FeatureProfile,
  options: Pick<DriftMonitorOptions, 'test' | 'threshold'>,
): { test: Exclude<DriftTestName, 'auto'>; threshold: number } {
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
  return { test, threshold };
}
