import { callModel, type InferOptions, now, withDeadline } from '@ballast/core';
import { z } from 'zod';
import { functionOption, positiveIntOption, positiveOption, shareOption } from '../checks.js';
import { type Comparator, outputComparator } from '../comparator.js';
import type { StrategyContext, StrategyRuntime } from '../strategy.js';

/** Shadow: the stable version serves; a sample of calls is mirrored to the candidate and compared. */
export interface ShadowStrategy<O = unknown> {
  type: 'shadow';
  /** Share of calls mirrored, 0..1. Default `1`. */
  sampleRate?: number;
  /** Most shadow calls in flight at once; calls beyond it are not mirrored. Default `4`. */
  maxConcurrency?: number;
  /** Budget of one shadow call, ms. Default `10000`. */
  timeoutMs?: number;
  /** Whether two outputs agree. Default: {@link outputComparator}() (numeric tolerance, top-class agreement). */
  comparator?: Comparator<O>;
}

/** @internal The schema of {@link ShadowStrategy}. */
export const shadowStrategySchema = z.strictObject({
  type: z.literal('shadow'),
  sampleRate: shareOption.optional(),
  maxConcurrency: positiveIntOption.optional(),
  timeoutMs: positiveOption.optional(),
  comparator: functionOption.optional(),
});

/**
 * Shadow: the stable version answers every call; a sample is mirrored to the candidate off the
 * caller's path, with bounded concurrency and its own budget, and the two outputs are compared.
 */
export function shadow<I, O>(settings: ShadowStrategy<O>, context: StrategyContext<I, O>): StrategyRuntime<I, O> {
  const sampleRate = settings.sampleRate ?? 1;
  const maxConcurrency = settings.maxConcurrency ?? 4;
  const timeoutMs = settings.timeoutMs ?? 10_000;
  const comparator = settings.comparator ?? (outputComparator() as Comparator<O>);
  const counts = { inFlight: 0, started: 0, dropped: 0 };

  const compareWith = (primary: Promise<O>, shadowOutput: O): void => {
    primary.then(
      (stableOutput) => {
        let agreed: boolean;
        try {
          agreed = comparator(stableOutput, shadowOutput) === true;
        } catch {
          agreed = false;
        }
        context.compare(agreed);
      },
      // The stable call failed: there is nothing to compare against.
      () => undefined,
    );
  };

  const run = (input: I, principal: InferOptions['principal'], primary: Promise<O>): void => {
    const started = now();
    let inner: Promise<O> | undefined;
    const release = (): void => {
      counts.inFlight--;
    };
    const call = withDeadline({ timeoutMs, ...(principal === undefined ? {} : { principal }) }, (scoped) => {
      inner = callModel(context.candidate, input, scoped);
      return inner;
    });
    // The slot is held until the candidate's own work settles, not just until the budget ends, so
    // a candidate that ignores cancellation still never runs more than `maxConcurrency` calls.
    if (inner === undefined) release();
    else inner.then(release, release);
    call.then(
      (output) => {
        context.record('candidate', started, false);
        compareWith(primary, output);
      },
      (error: unknown) => context.record('candidate', started, context.isError(error)),
    );
  };

  return {
    weight: () => 0,
    canPromote: () => true,
    compares: true,
    started(role, input, options, output) {
      if (role !== 'stable' || !context.running()) return;
      if (sampleRate < 1 && context.random() >= sampleRate) return;
      if (counts.inFlight >= maxConcurrency) {
        counts.dropped++;
        return;
      }
      counts.inFlight++;
      counts.started++;
      // setImmediate: the candidate's synchronous work (if any) runs after the caller's call
      // returns, so the mirror adds nothing to the caller's latency. The caller's signal is not
      // passed: the shadow call has its own budget and must not be cut short by a caller that got
      // its answer.
      setImmediate(run, input, options?.principal, output);
    },
    describe(report) {
      report.shadow = { inFlight: counts.inFlight, maxConcurrency, started: counts.started, dropped: counts.dropped };
    },
  };
}
