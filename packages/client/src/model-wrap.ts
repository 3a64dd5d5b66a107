import type { InferOptions, Model } from '@ballast/core';

/**
 * @internal Builds the model a middleware returns: same name, version and kind as `next`, with
 * `health`/`close` passed through, so a wrapped model is again a drop-in `Model`.
 */
export function wrapModel<I, O>(next: Model<I, O>, infer: (input: I, options?: InferOptions) => Promise<O>): Model<I, O> {
  const model: Model<I, O> = {
    name: next.name,
    ...(next.version === undefined ? {} : { version: next.version }),
    kind: next.kind ?? 'internal',
    infer,
    ...(next.health ? { health: () => (next.health as NonNullable<Model['health']>).call(next) } : {}),
    ...(next.close ? { close: () => (next.close as NonNullable<Model['close']>).call(next) } : {}),
  };
  return model;
}
