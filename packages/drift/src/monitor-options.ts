import { z } from 'zod';
import { MAX_WINDOW_ROWS } from './monitor-types.js';

/*
 * The zod schema of DriftMonitor's options, parsed once by its constructor with core's
 * parseOptions: a mistake fails with CONFIG naming its path (`window.maxRows`). What depends on
 * the reference profile (a feature missing from it, a numeric test on a categorical feature) is
 * checked where the profile is read.
 */

const positive = z.number().finite().positive();
const rows = z.number().int().positive().max(MAX_WINDOW_ROWS);
const testName = z.enum(['auto', 'ks', 'cramer-von-mises', 'wasserstein', 'psi', 'kl', 'jensen-shannon', 'hellinger', 'chi-square']);
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'expected a function');

const windowSchema = z
  .strictObject({
    size: rows.optional(),
    durationMs: positive.optional(),
    slide: positive.optional(),
    slideMs: positive.optional(),
    maxRows: positive.max(MAX_WINDOW_ROWS).optional(),
  })
  // The ring holds maxRows rows; a count window (500 rows unless durationMs is given) must fit.
  .refine((window) => window.maxRows === undefined || window.maxRows >= (window.size ?? (window.durationMs === undefined ? 500 : 0)), {
    message: 'must be >= window.size',
    path: ['maxRows'],
  });

/** @internal The schema of {@link DriftMonitorOptions}. */
export const driftMonitorOptionsSchema = z.strictObject({
  name: z.string().min(1).optional(),
  reference: z.custom(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { features?: unknown }).features === 'object' &&
      (value as { features: unknown }).features !== null,
    'expected a reference profile (createProfile or parseProfile)',
  ),
  features: z.array(z.string()).optional(),
  window: windowSchema.optional(),
  test: z.union([testName, z.record(z.string(), testName)]).optional(),
  threshold: z.union([positive, z.record(z.string(), positive)]).optional(),
  correction: z.enum(['bonferroni', 'fdr', 'none']).optional(),
  driftShare: z.number().gt(0).max(1).optional(),
  minRows: z.number().int().min(1).optional(),
  onResult: fn.optional(),
  now: fn.optional(),
  accuracy: z
    .strictObject({
      maxPending: z.number().int().positive().optional(),
      // The detector's own constructor (DDM, also used on its own) checks its options.
      detector: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});
