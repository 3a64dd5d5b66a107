import { z } from 'zod';
import { healthOf } from '../health.js';
import type { StrategyContext, StrategyRuntime } from '../strategy.js';

/** Blue-green: all traffic on one version; switch to the candidate once it is healthy. */
export interface BlueGreenStrategy {
  type: 'blue-green';
  /** Switch by itself when the candidate's `health()` reports ready (checked every window). Default `true`. */
  autoSwitch?: boolean;
}

/** @internal The schema of {@link BlueGreenStrategy}. */
export const blueGreenStrategySchema = z.strictObject({ type: z.literal('blue-green'), autoSwitch: z.boolean().optional() });

/**
 * Blue-green: every call goes to the stable version until the candidate reports healthy, then
 * every call goes to the candidate (a `switch` decision); the stable version stays loaded for an
 * instant switch back. Promoted only once switched.
 */
export function blueGreen<I, O>(settings: BlueGreenStrategy, context: StrategyContext<I, O>): StrategyRuntime<I, O> {
  const autoSwitch = settings.autoSwitch ?? true;
  let switched = false;
  let checkingHealth = false;

  return {
    weight: () => (switched ? 1 : 0),
    canPromote: () => switched,
    check() {
      if (!autoSwitch || switched || !context.running() || checkingHealth) return;
      checkingHealth = true;
      void healthOf(context.candidate).then((report) => {
        checkingHealth = false;
        if (report.ready && !switched && context.running()) {
          switched = true;
          context.decide('switch', 'candidate-healthy');
        }
      });
    },
    describe(report) {
      report.switched = switched;
    },
    save: () => ({ switched }),
    restore(record) {
      switched = record.switched;
    },
  };
}
