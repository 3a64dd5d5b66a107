import type { HealthReport, InferOptions, Model, ModelKind } from './model.js';
import type { ModelStream } from './stream.js';

/** What a layer supplies to {@link wrapModel}; anything left out behaves as described per field. */
export interface WrapModelParts<I, O> {
  /** The layer's `infer`. */
  infer(input: I, options?: InferOptions): Promise<O>;
  /**
   * The layer's `inferBatch`. Left out, the wrapper has none: passing the wrapped model's batch
   * call through would skip the layer, so a layer that allows it says so here.
   */
  inferBatch?(inputs: readonly I[], options?: InferOptions): Promise<O[]>;
  /**
   * The layer's `stream`. Installed only when the wrapped model streams (a layer never makes a
   * model that cannot stream look as if it could). Left out, the wrapped model's `stream` passes
   * through unchanged: a layer with nothing to do per chunk costs nothing per chunk.
   */
  stream?(input: I, options?: InferOptions): ModelStream<O>;
  /** The layer's health check. Default: the wrapped model's, when it has one. */
  health?(): Promise<HealthReport>;
  /** The layer's `close`. Default: the wrapped model's, when it has one. */
  close?(): Promise<void>;
}

/**
 * Builds the model a layer returns around `next`. Its `name`, `version` and `kind` are getters
 * that read `next` on every access, so a model whose identity changes (an ONNX model that
 * `reload()`s a new version) shows the change through every layer wrapped around it; `health`,
 * `close` and `stream` pass through unless the layer gives its own (`stream` only when `next` streams). Every Ballast wrapper is built with it.
 *
 * @example
 * const logged: Middleware = (next) =>
 *   wrapModel(next, { infer: (input, options) => { console.log(next.name); return callModel(next, input, options); } });
 */
export function wrapModel<I, O>(next: Model<I, O>, parts: WrapModelParts<I, O>): Model<I, O> {
  const model = {
    get name(): string {
      return next.name;
    },
    get version(): string | undefined {
      return next.version;
    },
    get kind(): ModelKind {
      return next.kind ?? 'internal';
    },
    infer: parts.infer,
  } as Model<I, O> & { -readonly [K in 'inferBatch' | 'stream' | 'health' | 'close']?: Model<I, O>[K] };
  if (parts.inferBatch) model.inferBatch = parts.inferBatch;
  if (next.stream)
    model.stream = parts.stream ?? ((input, options) => (next.stream as NonNullable<Model<I, O>['stream']>).call(next, input, options));
  if (parts.health) model.health = parts.health;
  else if (next.health) model.health = () => (next.health as () => Promise<HealthReport>).call(next);
  if (parts.close) model.close = parts.close;
  else if (next.close) model.close = () => (next.close as () => Promise<void>).call(next);
  return model;
}
