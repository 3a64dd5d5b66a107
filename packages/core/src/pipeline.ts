import { deadlineOf, enterScope, guardScoped, inScope, withDeadline } from './deadline.js';
import { BallastError, toBallastError } from './errors.js';
import { channels, type InferContext } from './events.js';
import { callModel, callModelBatch, hasTypedFailures, type InferOptions, type Middleware, type Model, markTypedFailures } from './model.js';
import { createStream, type ModelStream } from './stream.js';
import { wrapModel } from './wrap-model.js';

type BatchModel<I, O> = Model<I, O> & { inferBatch: NonNullable<Model<I, O>['inferBatch']> };

// A static function (no closure per call) for calls that run under no scope (see scopedInfer).
function classify(error: unknown): never {
  throw toBallastError(error);
}

/*
 * Calls a model marked with markTypedFailures: its rejections are BallastErrors already, and only
 * a synchronous throw (which callModel would pass on as it is) needs classifying.
 */
function callTyped<I, O>(model: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
  try {
    return model.infer(input, options);
  } catch (error) {
    return Promise.reject(toBallastError(error));
  }
}

function scopedInfer<I, O>(
  model: Model<I, O>,
  input: I,
  options: InferOptions | undefined,
  context: InferContext | undefined,
  typed: boolean,
): Promise<O> {
  const scoped = enterScope(options, context);
  if (scoped === undefined) {
    // Inside a call that has a scope, its guard classifies what reaches the caller; a call with
    // no scope at all pays one reaction for it, unless its model rejects only with BallastErrors.
    if (typed) return callTyped(model, input, options);
    return inScope(options) ? callModel(model, input, options) : callModel(model, input, options).then(undefined, classify);
  }
  if (scoped instanceof BallastError) return Promise.reject(scoped);
  return guardScoped(scoped, callModel(model, input, scoped));
}

/*
 * A stream owns its budget like a call does: createStream turns `timeoutMs`/`deadline` and
 * `signal` into one signal for the layers below (passed down with the absolute deadline), fails
 * the caller at once when it fires, and publishes `ballast:stream` for the composed model.
 */
function pipelineStream<I, O>(composed: Model<I, O>, input: I, options: InferOptions | undefined): ModelStream<O> {
  return createStream<O>(
    async function* piped(signal) {
      const inner = (composed.stream as NonNullable<Model<I, O>['stream']>)(input, streamOptions(options, signal));
      yield* inner;
      return inner.result;
    },
    { options, model: composed.name },
  );
}

const SCOPE = Symbol.for('ballast.scope');

function streamOptions(options: InferOptions | undefined, signal: AbortSignal): InferOptions {
  const out: InferOptions = { ...options, signal };
  const deadline = deadlineOf(options);
  if (deadline !== Number.POSITIVE_INFINITY) out.deadline = deadline;
  delete out.timeoutMs;
  // The stream carries its own budget; a call scope the options came with does not follow it down.
  delete (out as Record<symbol, unknown>)[SCOPE];
  return out;
}

/**
 * Composes middleware around a model. The first middleware listed is the outermost: in
 * `pipeline(model, a, b)` a call runs `a`, then `b`, then `model`.
 *
 * The returned model also owns the call's budget: `timeoutMs`, `deadline` and `signal` become one
 * deadline that every layer reads with `remainingMs()`/`signalOf()`, and the caller gets
 * `TIMEOUT` or `CANCELLED` the moment it runs out, whatever the layers below do. When someone
 * subscribes to the `ballast:infer` tracing channel, each call is traced there (zero cost
 * otherwise). When the model streams, so does the result: the stream's `timeoutMs`/`deadline`
 * bound the whole stream, its `signal` cancels it, and `ballast:stream` reports its start, first
 * chunk and end.
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
  // Read once: a model's mark is set when it is built, before anything composes it.
  const typed = hasTypedFailures(composed);

  // Identity is read live (wrapModel's getters): a model that reloads a new version is reported
  // with its current version here and in every trace.
  const result = wrapModel(composed, {
    infer(input: I, options?: InferOptions): Promise<O> {
      if (!tracing.hasSubscribers) return scopedInfer(composed, input, options, undefined, typed);
      const context: InferContext = {
        model: composed.name,
        version: composed.version ?? model.version,
        operation: composed.operation ?? model.operation ?? 'infer',
        kind: composed.kind ?? model.kind ?? 'internal',
        input,
        options,
        attributes: {},
      };
      const provider = composed.provider ?? model.provider;
      if (provider !== undefined) context.provider = provider;
      return tracing.tracePromise(scopedInfer, context, undefined, composed, input, options, context, typed) as Promise<O>;
    },
    ...(composed.inferBatch
      ? {
          inferBatch: (inputs: readonly I[], options?: InferOptions) =>
            withDeadline(options, (scoped) => callModelBatch(composed as BatchModel<I, O>, inputs, scoped)),
        }
      : {}),
    ...(composed.stream ? { stream: (input: I, options?: InferOptions) => pipelineStream(composed, input, options) } : {}),
  });
  // A middleware that forgets the version does not hide the model's.
  Object.defineProperty(result, 'version', { get: () => composed.version ?? model.version, enumerable: true });
  // Every rejection of the composed model's infer reaches its caller as a BallastError (the
  // scope's guard, classify, or a model that is marked), so a pipeline over this one need not
  // classify again.
  return Object.freeze(markTypedFailures(result));
}
