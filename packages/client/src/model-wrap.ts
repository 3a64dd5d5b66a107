import type { InferOptions, Model } from '@ballast/core';

/**
 * @internal Builds the model a middleware returns: same name, version and kind as `next`, with
 * `health`/`close` passed through, so a wrapped model is again a drop-in `Model`.
 */
export function wrapModel<I, O>(
  next: Model<I, O>,
  infer: (input: I, options?: InferOptions) => Promise<O>,
  extra: { close?: () => Promise<void> } = {},
): Model<I, O> {
  const model: Model<I, O> = {
    name: next.name,
    ...(next.version === undefined ? {} : { version: next.version }),
    kind: next.kind ?? 'internal',
    infer,
    ...(next.health ? { health: () => (next.health as NonNullable<Model['health']>).call(next) } : {}),
  };
  const close = extra.close ?? (next.close ? () => (next.close as NonNullable<Model['close']>).call(next) : undefined);
  if (close) (model as { close?: () => Promise<void> }).close = close;
  return model;
}
