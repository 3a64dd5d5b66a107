import { enterScope, guardScoped, withDeadline } from './deadline.js';
import { BallastError } from './errors.js';
import { channels, type InferContext } from './events.js';
import { callModel, type InferOptions, type Middleware, type Model } from './model.js';

function scopedInfer<I, O>(model: Model<I, O>, input: I, options: InferOptions | undefined, context: InferContext | undefined): Promise<O> {
  const scoped = enterScope(options, context);
  if (scoped === undefined) return callModel(model, input, options);
  if (scoped instanceof BallastError) return Promise.reject(scoped);
  return guardScoped(scoped, callModel(model, input, scoped));
}

/**
 * Composes middleware around a model. The first middleware listed is the outermost: in
 * `pipeline(model, a, b)` a call runs `a`, then `b`, then `model`.
 *
 * The returned model also owns the call's budget: `timeoutMs`, `deadline` and `signal` become one
 * deadline that every layer reads with `remainingMs()`/`signalOf()`, and the caller gets
 * `TIMEOUT` or `CANCELLED` the moment it runs out, whatever the layers below do. When someone
 * subscribes to the `ballast:infer` tracing channel, each call is traced there (zero cost
 * otherwise).
 *
 * @example
 * const model = pipeline(defineModel({ name: 'm', infer: run }), batching({ maxBatchSize: 32 }));
 * await model.infer(input, { timeoutMs: 100 });
 */
export function pipeline<I, O>(model: Model<I, O>, ...middleware: Middleware[]): Model<I, O> {
  if (typeof model?.infer !== 'function') {
    throw new BallastError('CONFIG', 'pipeline: the first argument must be a Model with an infer() method');
  }
  let inner: Model<I, O> = model;
  for (let i = middleware.length - 1; i >= 0; i--) {
    const wrap = middleware[i];
    if (typeof wrap !== 'function') {
      throw new BallastError('CONFIG', `pipeline: middleware #${i} is not a function`, { details: { index: i } });
    }
    inner = wrap(inner);
  }
  const composed = inner;
  const name = composed.name;
  const kind = composed.kind ?? model.kind ?? 'internal';
  const tracing = channels.infer;

  const result: Model<I, O> = {
    name,
    // A getter: a model that reloads (a new version) is reported with its current version.
    get version() {
      return composed.version ?? model.version;
    },
    kind,
    infer(input: I, options?: InferOptions): Promise<O> {
      if (!tracing.hasSubscribers) return scopedInfer(composed, input, options, undefined);
      const context: InferContext = {
        model: name,
        version: composed.version ?? model.version,
        operation: 'infer',
        kind,
        input,
        options,
        attributes: {},
      };
      return tracing.tracePromise(scopedInfer, context, undefined, composed, input, options, context) as Promise<O>;
    },
  };
  if (composed.inferBatch) {
    const batch = composed.inferBatch.bind(composed);
    (result as { inferBatch?: Model<I, O>['inferBatch'] }).inferBatch = (inputs, options) =>
      withDeadline(options, (scoped) => batch(inputs, scoped));
  }
  if (composed.health) (result as { health?: Model<I, O>['health'] }).health = composed.health.bind(composed);
  if (composed.close) (result as { close?: Model<I, O>['close'] }).close = composed.close.bind(composed);
  return Object.freeze(result);
}
