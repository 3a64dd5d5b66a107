import { callModel, capTimeout, type InferOptions, type Middleware, type Model, parseOptions, withDeadline } from '@ballast/core';
import { z } from 'zod';
import { wrapModel } from './model-wrap.js';
import { msOption } from './options-check.js';

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /** The most a call through this layer may take, ms; a caller's shorter budget wins. */
  timeoutMs: number;
}

/** @internal The schema of {@link TimeoutOptions}. */
export const timeoutOptionsSchema = z.strictObject({ timeoutMs: msOption });

/**
 * Caps what a call through this layer may take. The cap becomes a deadline nested in the call's
 * own (never extending it): when it passes, the work below is aborted through its signal and the
 * call fails with `TIMEOUT`, while layers above keep the rest of the caller's budget (for a
 * fallback, say). `createClient({ timeoutMs })` applies the same cap to the whole client.
 *
 * @example
 * const model = pipeline(remote, fallback({ chain: [{ value: 0 }] }), timeout({ timeoutMs: 150 }), retry());
 */
export function timeout(options: TimeoutOptions): Middleware {
  const limit = parseOptions('timeout', timeoutOptionsSchema, options).timeoutMs;
  return function timeoutMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    return wrapModel(next, function timed(input: I, callOptions?: InferOptions): Promise<O> {
      // withDeadline opens a nested scope only when the cap is tighter than the call's budget.
      return withDeadline(capTimeout(callOptions, limit), (scoped) => callModel(next, input, scoped));
    });
  };
}
