import { type InferOptions, type Model, wrapModel as wrapWith } from '@ballast/core';

/**
 * @internal The model a client middleware returns: core's `wrapModel()` (live name, version and
 * kind; `health`/`close` passed through) around the middleware's `infer`.
 */
export function wrapModel<I, O>(next: Model<I, O>, infer: (input: I, options?: InferOptions) => Promise<O>): Model<I, O> {
  return wrapWith(next, { infer });
}
