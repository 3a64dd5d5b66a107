import type { InferOptions, Model } from '@ballast/core';
import type { RolloutStatus } from './rollout.js';
import type { RolloutRecord } from './store.js';
import type { VersionRole } from './types.js';

/**
 * What a strategy sees of the rollout it runs in. The rollout owns the phase, the windows, the
 * analysis and the decisions; a strategy owns how traffic is split and its own state.
 */
export interface StrategyContext<I, O> {
  /** Rollout name. */
  readonly name: string;
  /** The version serving today. */
  readonly stable: Model<I, O>;
  /** The version being rolled out. */
  readonly candidate: Model<I, O>;
  /** Random source in [0, 1) (the rollout's `random` option). */
  readonly random: () => number;
  /** Whether the rollout is under analysis: not promoted, not rolled back, not closed. */
  running(): boolean;
  /** Whether a failure counts against a version (the analysis' `isError`). */
  isError(error: unknown): boolean;
  /** Records a finished call of a version in its window; a candidate call is checked for a breach. */
  record(role: VersionRole, started: number, failed: boolean): void;
  /** Records a comparison of candidate and stable outputs; checked for a breach. */
  compare(agreed: boolean): void;
  /** Takes an automatic decision of the strategy (`step`, `switch`), published and persisted. */
  decide(decision: 'step' | 'switch', reason: string): void;
  /** Promotes now when automatic promotion is on, enough healthy windows passed and `canPromote()`. */
  promoteIfDue(): void;
}

/**
 * A rollout strategy as it runs in one rollout: the one interface behind canary, blue-green,
 * shadow and any further strategy. Only `weight` and `canPromote` are required; every hook
 * defaults to doing nothing.
 */
export interface StrategyRuntime<I, O> {
  /** Candidate share of served calls while the rollout runs, 0..1 (promoted: 1, rolled back: 0). */
  weight(): number;
  /** Whether an automatic promotion may happen now (e.g. the ramp has run, traffic was switched). */
  canPromote(): boolean;
  /**
   * Whether the strategy compares outputs: windows then also need `minRequests` comparisons to
   * count, a disagreement rate can breach, and candidate metrics report comparisons.
   */
  readonly compares?: boolean;
  /** Picks the version of a call when the share is strictly between 0 and 1. Default: at random. May throw. */
  pick?(input: I, options: InferOptions | undefined, share: number): VersionRole;
  /** Sees every call once it has started on `role` (shadow mirrors stable calls). */
  started?(role: VersionRole, input: I, options: InferOptions | undefined, output: Promise<O>): void;
  /** When the strategy next needs `tick()` (a performance.now time), or `undefined`. */
  dueAt?(): number | undefined;
  /** Runs the strategy's own timeline up to `at` (e.g. ramp steps). */
  tick?(at: number): void;
  /** Runs when the analysis starts and when each window closes, while running (e.g. a health check). */
  check?(): void;
  /** Adds the strategy's own fields to a status report. */
  describe?(report: RolloutStatus): void;
  /** The strategy's part of the persisted record. */
  save?(): Partial<Pick<RolloutRecord, 'stepIndex' | 'switched'>>;
  /** Takes the strategy's state back from a persisted record of the same versions. */
  restore?(record: RolloutRecord): void;
}

/**
 * Builds the runtime of one strategy for one rollout from the user's strategy options. Checks the
 * options and fails with `CONFIG`. Takes `never` so that every strategy's own options type fits
 * the registry; the rollout passes the options whose `type` names the strategy.
 */
export type StrategyFactory = <I, O>(settings: never, context: StrategyContext<I, O>) => StrategyRuntime<I, O>;
