import { isBallastError } from '@ballast/core';
import { z } from 'zod';
import { functionOption, positiveIntOption, positiveOption, shareOption } from './checks.js';
import type { VersionRole } from './types.js';
import { p95Exceeds, type WindowTotals } from './version-window.js';

/**
 * Where a drift score comes from: a function, or an object with a `score()` method, that returns
 * the latest score for a version (`undefined` when unknown). Scores are read when an analysis
 * window closes. A `@ballast/drift` `DriftMonitor` is not a source by itself (it watches one
 * stream and has no `score()`): read its latest result, e.g. the share of drifted features.
 *
 * @example
 * const monitor = new DriftMonitor({ reference }); // fed with the candidate's inputs
 * const drift: DriftSource = (role) => (role === 'candidate' ? monitor.lastResult?.share : undefined);
 */
export type DriftSource = ((role: VersionRole) => number | undefined) | { score(role: VersionRole): number | undefined };

/** When a candidate is healthy, and what the rollout does about it. */
export interface AnalysisOptions {
  /** Length of one analysis window, ms. Default `60000`. */
  windowMs?: number;
  /** Sub-buckets of the sliding window. Default `10`. */
  buckets?: number;
  /** Calls (and, for shadow, comparisons) a window needs before it counts or can breach. Default `20`. */
  minRequests?: number;
  /** Consecutive healthy windows before an automatic promotion. Default `3`. */
  healthyWindows?: number;
  /** Promote by itself after `healthyWindows`. Default `true`. */
  autoPromote?: boolean;
  /** Roll back by itself, at once, when a limit is breached. Default `true`. */
  autoRollback?: boolean;
  /** Highest tolerated candidate error rate, 0..1. Default `0.05`. */
  maxErrorRate?: number;
  /** Highest tolerated candidate p95 latency, ms. Default: no latency limit. */
  maxP95Ms?: number;
  /** Highest tolerated candidate drift score (needs `drift`). Default: no drift limit. */
  maxDriftScore?: number;
  /** Highest tolerated shadow disagreement rate, 0..1. Default `0.05`. */
  maxDisagreementRate?: number;
  /** Where drift scores come from (e.g. the latest result of a `@ballast/drift` monitor). */
  drift?: DriftSource;
  /** Whether a failure counts against a version. Default: everything except `CANCELLED` and `INVALID_INPUT`. */
  isError?: (error: unknown) => boolean;
}

/** @internal The schema of {@link AnalysisOptions}; rollout() composes it as its `analysis` section. */
export const analysisOptionsSchema = z.strictObject({
  windowMs: positiveOption.optional(),
  buckets: positiveIntOption.optional(),
  minRequests: positiveIntOption.optional(),
  healthyWindows: positiveIntOption.optional(),
  autoPromote: z.boolean().optional(),
  autoRollback: z.boolean().optional(),
  maxErrorRate: shareOption.optional(),
  maxP95Ms: positiveOption.optional(),
  maxDriftScore: z.number().optional(),
  maxDisagreementRate: shareOption.optional(),
  drift: z
    .custom(
      (value) => typeof value === 'function' || typeof (value as { score?: unknown } | null)?.score === 'function',
      'expected a function or an object with a score() method',
    )
    .optional(),
  isError: functionOption.optional(),
});

function defaultIsError(error: unknown): boolean {
  return !(isBallastError(error) && (error.code === 'CANCELLED' || error.code === 'INVALID_INPUT'));
}

/**
 * The analysis of one rollout, its options checked once: what a window must hold to count, which
 * limits breach, and where drift scores come from. Strategy-neutral: a strategy that compares
 * outputs (shadow) says so with `compares`.
 */
export class Analysis {
  readonly windowMs: number;
  readonly buckets: number;
  readonly minRequests: number;
  readonly healthyWindows: number;
  readonly autoPromote: boolean;
  readonly autoRollback: boolean;
  readonly maxErrorRate: number;
  readonly maxP95Ms: number | undefined;
  readonly maxDriftScore: number | undefined;
  readonly maxDisagreementRate: number;
  readonly isError: (error: unknown) => boolean;
  private readonly drift: DriftSource | undefined;

  /** From options already parsed with {@link analysisOptionsSchema} (rollout's `analysis` section). */
  constructor(options: AnalysisOptions) {
    const {
      windowMs = 60_000,
      buckets = 10,
      minRequests = 20,
      healthyWindows = 3,
      autoPromote = true,
      autoRollback = true,
      maxErrorRate = 0.05,
      maxP95Ms,
      maxDriftScore,
      maxDisagreementRate = 0.05,
      drift,
      isError = defaultIsError,
    } = options;
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.minRequests = minRequests;
    this.healthyWindows = healthyWindows;
    this.autoPromote = autoPromote;
    this.autoRollback = autoRollback;
    this.maxErrorRate = maxErrorRate;
    this.maxP95Ms = maxP95Ms;
    this.maxDriftScore = maxDriftScore;
    this.maxDisagreementRate = maxDisagreementRate;
    this.isError = isError;
    this.drift = drift;
  }

  /** The latest drift score of a version, or `undefined` without a source or a score. */
  driftScore(role: VersionRole): number | undefined {
    const drift = this.drift;
    if (drift === undefined) return undefined;
    try {
      const score = typeof drift === 'function' ? drift(role) : drift.score(role);
      return typeof score === 'number' && !Number.isNaN(score) ? score : undefined;
    } catch {
      // A failing drift source must not take the model down; it reads as "no score".
      return undefined;
    }
  }

  /** The limit that `totals` breach (`error-rate`, `p95-latency`, `disagreement`), if any. */
  breachOf(totals: WindowTotals, compares: boolean): string | undefined {
    if (totals.requests >= this.minRequests) {
      if (totals.errors / totals.requests > this.maxErrorRate) return 'error-rate';
      if (this.maxP95Ms !== undefined && p95Exceeds(totals)) return 'p95-latency';
    }
    if (compares && totals.compared >= this.minRequests && totals.disagreed / totals.compared > this.maxDisagreementRate)
      return 'disagreement';
    return undefined;
  }

  /** The breach of a closed window: a limit of {@link breachOf}, or `drift` when the candidate's score is above its limit. */
  windowBreachOf(totals: WindowTotals, compares: boolean): string | undefined {
    const reason = this.breachOf(totals, compares);
    if (reason !== undefined || this.maxDriftScore === undefined) return reason;
    const score = this.driftScore('candidate');
    return score !== undefined && score > this.maxDriftScore ? 'drift' : undefined;
  }

  /** Whether a closed window held enough traffic to tell anything (to count towards a promotion). */
  enough(totals: WindowTotals, compares: boolean): boolean {
    return totals.requests >= this.minRequests && (!compares || totals.compared >= this.minRequests);
  }
}
