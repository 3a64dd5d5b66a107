import { enterScope, guardScoped, inScope, withDeadline } from './deadline.js';
import { BallastError, toBallastError } from './errors.js';
import { channels, type InferContext } from './events.js';
import { callModel, callModelBatch, type InferOptions, type Middleware, type Model } from './model.js';
import { wrapModel } from './wrap-model.js';

type BatchModel<I, O> = Model<I, O> & { inferBatch: NonNullable<Model<I, O>['inferBatch']> };

// A static function (no closure per call) for calls that run under no scope (see scopedInfer).
function classify(error: unknown): never {
  throw toBallastError(error);
}

function scopedInfer<I, O>(model: Model<I, O>, input: I, options: InferOptions | undefined, context: InferContext | undefined): Promise<O> {
  const scoped = enterScope(options, context);
  if (scoped === undefined) {
    // Inside a call that has a scope, its guard classifies what reaches the caller; a call with
    // no scope at all pays one reaction for it.
    return inScope(options) ? callModel(model, input, options) : callModel(model, input, options).then(undefined, classify);
  }
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
  const tracing = channels.infer;

  // Identity is read live (wrapModel's getters): a model that reloads a new version is reported
  // with its current version here and in every trace.
  const result = wrapModel(composed, {
    infer(input: I, options?: InferOptions): Promise<O> {
      if (!tracing.hasSubscribers) return scopedInfer(composed, input, options, undefined);
      const context: InferContext = {
        model: composed.name,
        version: composed.version ?? model.version,
        operation: 'infer',
        kind: composed.kind ?? model.kind ?? 'internal',
        input,
        options,
        attributes: {},
      };
      return tracing.tracePromise(scopedInfer, context, undefined, composed, input, options, context) as Promise<O>;
    },
    ...(composed.inferBatch
      ? {
          inferBatch: (inputs: readonly I[], options?: InferOptions) =>
            withDeadline(options, (scoped) => callModelBatch(composed as BatchModel<I, O>, inputs, scoped)),
        }
      : {}),
  });
  // A middleware that forgets the version does not hide the model's.
  Object.defineProperty(result, 'version', { get: () => composed.version ?? model.version, enumerable: true });
  return Object.freeze(result);
}
