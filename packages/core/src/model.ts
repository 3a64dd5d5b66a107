import { BallastError } from './errors.js';
import { type Chunk, collectStream, createStream, type ModelStream, type SourceReturn, type StreamResult } from './stream.js';

/** Who is calling. Set by `@ballast/guard` or an adapter; middleware may key limits on it. */
export interface Principal {
  /** Stable identifier (an API key id, a user id). */
  readonly id: string;
  /** Roles granted to the principal. */
  readonly roles?: readonly string[];
  /** Extra facts about the principal (tenant, plan). */
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
}

/** Per-call options. Every middleware passes them down, possibly with fields added. */
export interface InferOptions {
  /** Caller cancellation; honoured everywhere, including queues. */
  signal?: AbortSignal;
  /** One budget for the whole call, in milliseconds: queueing, retries, backoff and fallbacks. */
  timeoutMs?: number;
  /**
   * The absolute deadline on the `performance.now()` clock. Ballast derives it from `timeoutMs`
   * at the outermost layer; pass it yourself to hand a budget across layers. When both are given
   * the earlier one wins.
   */
  deadline?: number;
  /** Higher runs first where a queue supports priorities. */
  priority?: number;
  /** Overrides the derived result-cache key. */
  cacheKey?: string;
  /** Who calls. */
  principal?: Principal;
  /** Extra telemetry attributes. */
  attributes?: Record<string, string | number | boolean>;
}

/** What `health()` reports. */
export interface HealthReport {
  /** True when the model can serve now. */
  readonly ready: boolean;
  /** `ready`, `degraded` (serving, something is off) or `unavailable`. */
  readonly status: 'ready' | 'degraded' | 'unavailable';
  /** A human-readable reason when not plainly ready. */
  readonly message?: string;
  /** Structured facts (provider, last error, golden-sample check). */
  readonly details?: Record<string, unknown>;
}

/** Where a model runs: in this process (`internal`) or behind the network (`client`). */
export type ModelKind = 'internal' | 'client';

/**
 * The contract every Ballast piece speaks. A wrapped model is again a `Model`, so clients,
 * fallbacks, routers and rollouts compose.
 */
export interface Model<I = unknown, O = unknown> {
  /** Name used in errors, events and metrics. */
  readonly name: string;
  /** Version label, when known. */
  readonly version?: string;
  /** Where the model runs; telemetry uses it for the span kind. Defaults to `internal`. */
  readonly kind?: ModelKind;
  /**
   * The generative-AI operation a call performs (`chat`, `text_completion`, `embeddings`, the
   * OpenTelemetry GenAI `gen_ai.operation.name` values). Telemetry then reports the model's calls
   * and streams under the GenAI conventions. Left out for other models (calls report `infer`).
   * Set by `defineModel` on the model that talks to the provider; `pipeline()` reports it for the
   * model it is built on, and wrappers do not inherit it (a client's own call, which may be a cache
   * hit or a fallback, is not a provider operation).
   */
  readonly operation?: string;
  /** Who serves the model (`openai`, `anthropic`, `aws.bedrock`, ...: `gen_ai.provider.name`), for GenAI models. */
  readonly provider?: string;
  /** Runs one inference. */
  infer(input: I, options?: InferOptions): Promise<O>;
  /** Runs many inputs in one call, for natively batchable models. Returns one output per input, in order. */
  inferBatch?(inputs: readonly I[], options?: InferOptions): Promise<O[]>;
  /**
   * Answers in chunks, for models that stream (chat, completions). Answers at once; nothing is sent
   * until the caller iterates. Leaving the `for await` loop or aborting `options.signal` aborts the
   * upstream. The stream's `result` settles with the output and usage once it ends (see
   * {@link ModelStream} and docs/streaming.md).
   */
  stream?(input: I, options?: InferOptions): ModelStream<O>;
  /** Reports whether the model can serve. */
  health?(): Promise<HealthReport>;
  /** Releases resources. */
  close?(): Promise<void>;
}

/** A function that wraps a model in another model with the same interface. */
export type Middleware = <I, O>(next: Model<I, O>) => Model<I, O>;

/** What {@link defineModel} takes. */
export interface ModelDefinition<I, O> {
  /** Name used in errors, events and metrics. */
  name: string;
  /** Version label. */
  version?: string;
  /** `internal` (default) or `client` for remote models. */
  kind?: ModelKind;
  /** The generative-AI operation of a call (`chat`, `text_completion`, `embeddings`); see {@link Model.operation}. */
  operation?: string;
  /** Who serves the model (`openai`, ...); see {@link Model.provider}. */
  provider?: string;
  /** Runs one inference. May be left out when `stream` is given: `infer` then reads the stream to its end. */
  infer?(input: I, options?: InferOptions): Promise<O>;
  /** Runs a batch; one output per input, in order. */
  inferBatch?(inputs: readonly I[], options?: InferOptions): Promise<O[]>;
  /**
   * Streams an answer: an async generator that yields chunks and returns `{ output, usage }` (or
   * nothing: the output is then the chunks' texts joined). `options.signal` aborts when the caller
   * stops reading, cancels, or runs out of budget; pass it to fetch. `defineModel` makes a
   * {@link ModelStream} of it.
   */
  stream?(input: I, options: InferOptions & { signal: AbortSignal }): AsyncGenerator<Chunk, SourceReturn<O>, undefined>;
  /** Health check. */
  health?(): Promise<HealthReport>;
  /** Releases resources. */
  close?(): Promise<void>;
}

/**
 * Builds a {@link Model} from plain functions, checking the definition.
 *
 * @example
 * const double = defineModel({ name: 'double', infer: async (x: number) => x * 2 });
 * await double.infer(21); // 42
 */
export function defineModel<I, O>(definition: ModelDefinition<I, O>): Model<I, O> {
  if (typeof definition !== 'object' || definition === null) {
    throw new BallastError('CONFIG', 'defineModel expects an object');
  }
  if (typeof definition.name !== 'string' || definition.name.length === 0) {
    throw new BallastError('CONFIG', 'defineModel: "name" must be a non-empty string', { details: { path: 'name' } });
  }
  if (typeof definition.infer !== 'function' && (definition.infer !== undefined || typeof definition.stream !== 'function')) {
    throw new BallastError('CONFIG', `defineModel(${definition.name}): "infer" must be a function (or left out when "stream" is given)`, {
      details: { path: 'infer' },
    });
  }
  for (const key of ['operation', 'provider'] as const) {
    const value = definition[key];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new BallastError('CONFIG', `defineModel(${definition.name}): "${key}" must be a non-empty string`, { details: { path: key } });
    }
  }
  for (const key of ['inferBatch', 'stream', 'health', 'close'] as const) {
    if (definition[key] !== undefined && typeof definition[key] !== 'function') {
      throw new BallastError('CONFIG', `defineModel(${definition.name}): "${key}" must be a function`, {
        details: { path: key },
      });
    }
  }
  const stream = definition.stream ? streamOf(definition) : undefined;
  const infer =
    definition.infer ??
    ((input: I, options?: InferOptions) => collectStream((stream as NonNullable<Model<I, O>['stream']>)(input, options)).then(outputOf));
  const model: Model<I, O> = {
    name: definition.name,
    ...(definition.version === undefined ? {} : { version: definition.version }),
    kind: definition.kind ?? 'internal',
    ...(definition.operation === undefined ? {} : { operation: definition.operation }),
    ...(definition.provider === undefined ? {} : { provider: definition.provider }),
    infer,
    ...(definition.inferBatch ? { inferBatch: definition.inferBatch } : {}),
    ...(stream ? { stream } : {}),
    ...(definition.health ? { health: definition.health } : {}),
    ...(definition.close ? { close: definition.close } : {}),
  };
  return Object.freeze(model);
}

function outputOf<O>(result: StreamResult<O>): O {
  return result.output;
}

function streamOf<I, O>(definition: ModelDefinition<I, O>): NonNullable<Model<I, O>['stream']> {
  const source = definition.stream as NonNullable<ModelDefinition<I, O>['stream']>;
  const identity = {
    model: definition.name,
    ...(definition.operation === undefined ? {} : { operation: definition.operation }),
    ...(definition.provider === undefined ? {} : { provider: definition.provider }),
  };
  return (input, options) => createStream<O>((signal) => source(input, { ...options, signal }), { options, ...identity });
}

/**
 * Calls `model.infer(input, options)` and always answers with a promise: a model (or a layer)
 * that throws synchronously gives a rejected promise instead, so the caller's `.then`/`catch`
 * and `await` see every failure the same way. Middleware use it to call the model they wrap.
 *
 * @example
 * const logged: Middleware = (next) => ({ name: next.name, infer: (input, options) => callModel(next, input, options) });
 */
export function callModel<I, O>(model: Model<I, O>, input: I, options?: InferOptions): Promise<O> {
  try {
    return model.infer(input, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** @internal {@link callModel} for `inferBatch` (which the caller has checked is there). */
export function callModelBatch<I, O>(
  model: Model<I, O> & { inferBatch: NonNullable<Model<I, O>['inferBatch']> },
  inputs: readonly I[],
  options?: InferOptions,
): Promise<O[]> {
  try {
    return model.inferBatch(inputs, options);
  } catch (error) {
    return Promise.reject(error);
  }
}

const TYPED_FAILURES = Symbol.for('ballast.typedFailures');

/**
 * Declares that `model.infer`, called with options that carry no enclosing call's scope (a
 * `pipeline()` call with no budget, signal or tracing), fails only with `BallastError`s: every
 * promise it returns then rejects with one, so `pipeline()` built on it skips turning rejections
 * into `BallastError`s (one promise and one reaction per call less). Inside a call's scope the
 * scope classifies what reaches the caller anyway. A synchronous throw is still classified. Mark
 * only a model whose `infer` classifies everything it rejects with, whatever the layers below it
 * do (`batching()` and `pipeline()` mark their models). A wrapper does not inherit the mark.
 * Returns `model`; a frozen model cannot be marked (`CONFIG`).
 *
 * @example
 * const model = markTypedFailures({ name: 'm', infer: (x) => run(x).catch((e) => Promise.reject(toBallastError(e))) });
 */
export function markTypedFailures<M extends Model<never, unknown>>(model: M): M {
  if (Object.isFrozen(model))
    throw new BallastError('CONFIG', `markTypedFailures: model "${model.name}" is frozen; mark it before freezing`);
  Object.defineProperty(model, TYPED_FAILURES, { value: true });
  return model;
}

/** Whether `model` was marked with {@link markTypedFailures} (its `infer` rejects only with `BallastError`s). */
export function hasTypedFailures(model: Model<never, unknown>): boolean {
  return (model as unknown as Record<symbol, unknown>)[TYPED_FAILURES] === true;
}
