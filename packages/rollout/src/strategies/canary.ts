import { type InferOptions, now } from '@ballast/core';
import { z } from 'zod';
import { functionOption, positiveOption, shareOption } from '../checks.js';
import { bucketOf, hashKey } from '../hash.js';
import type { StrategyContext, StrategyRuntime } from '../strategy.js';

/** One step of a canary ramp. */
export interface CanaryStep {
  /** Share of traffic on the candidate during the step, 0..1. */
  weight: number;
  /** How long the step lasts before the next one, ms (for the last step: the least time before promotion). */
  durationMs: number;
}

/** Canary: a share of traffic goes to the candidate, sticky per key. */
export interface CanaryStrategy<I = unknown> {
  type: 'canary';
  /** Fixed candidate share, 0..1 (when no `steps`). Default `0.1`. */
  weight?: number;
  /** A ramp: weights that take over from each other as time passes. Overrides `weight`. */
  steps?: readonly CanaryStep[];
  /**
   * The sticky key of a call: one key always lands on the same version for a given weight, and
   * raising the weight never moves a key back to the stable version. Default: the principal's id.
   * Calls without a key are assigned at random with the current weight.
   */
  key?: (input: I, options: InferOptions | undefined) => string | undefined;
}

/** @internal The schema of {@link CanaryStrategy}. */
export const canaryStrategySchema = z.strictObject({
  type: z.literal('canary'),
  weight: shareOption.optional(),
  steps: z
    .array(z.strictObject({ weight: shareOption, durationMs: positiveOption }))
    .min(1)
    .optional(),
  key: functionOption.optional(),
});

/**
 * Canary: a fixed share, or a ramp of shares that take over from each other as time passes, each
 * call placed by its key's hash bucket (sticky per key) or at random without a key. A ramp is
 * promoted only once its last step has run. `settings` were parsed with {@link canaryStrategySchema}.
 */
export function canary<I, O>(settings: CanaryStrategy<I>, context: StrategyContext<I, O>): StrategyRuntime<I, O> {
  let fixedWeight = 0;
  let steps: readonly CanaryStep[] | undefined;
  let keyOf: (input: I, options: InferOptions | undefined) => string | undefined = (_input, callOptions) => callOptions?.principal?.id;
  if (settings.steps !== undefined) steps = settings.steps.map((step) => ({ weight: step.weight, durationMs: step.durationMs }));
  else fixedWeight = settings.weight ?? 0.1;
  if (settings.key !== undefined) keyOf = settings.key;

  const seed = hashKey(context.name);
  let stepIndex = 0;
  let stepStartedAt = now();
  let rampDone = steps === undefined;
  const stepAt = (index: number): CanaryStep => (steps as readonly CanaryStep[])[index] as CanaryStep;

  return {
    weight: () => (steps ? stepAt(stepIndex).weight : fixedWeight),
    canPromote: () => rampDone,
    pick(input, options, share) {
      const key = keyOf(input, options);
      const position = typeof key === 'string' ? bucketOf(key, seed) : context.random();
      return position < share ? 'candidate' : 'stable';
    },
    dueAt: () => (steps === undefined || rampDone ? undefined : stepStartedAt + stepAt(stepIndex).durationMs),
    tick(at) {
      if (steps === undefined) return;
      // Steps that fell due while the timer was late are taken one by one, each at its due time.
      while (context.running() && !rampDone) {
        const due = stepStartedAt + stepAt(stepIndex).durationMs;
        if (at < due) break;
        if (stepIndex < steps.length - 1) {
          stepIndex++;
          stepStartedAt = due;
          context.decide('step', 'ramp');
        } else {
          rampDone = true;
          context.promoteIfDue();
        }
      }
    },
    describe(report) {
      if (steps !== undefined) report.step = { index: stepIndex, count: steps.length, weight: stepAt(stepIndex).weight };
    },
    save: () => ({ stepIndex }),
    restore(record) {
      stepIndex = steps === undefined ? 0 : Math.min(Math.max(0, Math.floor(record.stepIndex)), steps.length - 1);
      stepStartedAt = now();
    },
  };
}
