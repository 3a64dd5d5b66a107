import type { IncomingMessage } from 'node:http';
import { BallastError, type HealthReport, type InferOptions, type Model, withDeadline, wrapModel } from '@ballast/core';
import type { Guard } from '@ballast/guard';
import {
  createServingCore,
  Drain,
  type ModelRegistry,
  type RegisteredModel,
  type ServingCore,
  specsToV2,
  type V2TensorMetadata,
} from '@ballast/serving';
import { withRequestOptions } from './context.js';

/** Options of {@link BallastModels}: how the module's models are served (the serving core's options). */
export interface BallastModelsOptions {
  /** An open breaker makes its model unready even when a fallback answers for it. Default false (see `BallastModuleOptions.readinessFollowsBreakers`). */
  readinessFollowsBreakers?: boolean;
  /** How long a model's `health()` may take, ms. Default 2000. */
  healthTimeoutMs?: number;
  /** The security layer the served routes authenticate, limit, check, filter and audit with. */
  guard?: Guard;
  /** Budget of each served request, ms (a request's `x-timeout-ms` may shorten it). Default the serving core's (30,000). */
  timeoutMs?: number;
  /** Header a caller's request id is read from and echoed on. Default `x-request-id`. */
  requestIdHeader?: string;
  /** Most rows one v2 infer request may carry. Default 1024. */
  maxBatchSize?: number;
  /** How long shutdown waits for served requests and model calls in flight, ms. Default 10,000. */
  drainTimeoutMs?: number;
  /** Called with every 5xx a served route answers (replaces the default log of 500s). */
  onError?: (error: BallastError, request: unknown) => void;
  /** Where the default report writes a 500 answer's error. Default `console.error`. */
  log?: (line: string) => void;
}

/**
 * The models given to `BallastModule.forRoot({ models })`, by name and version. Injectable:
 * controllers that serve many models look them up here; `@InjectModel(name)` covers one.
 * Closing the application drains in-flight calls and closes every model once.
 *
 * @example
 * @Controller('models')
 * class ModelsController {
 *   constructor(@Inject(BallastModels) private readonly models: BallastModels) {}
 *   @Post(':name')
 *   run(@Param('name') name: string, @Body() body: unknown) {
 *     return this.models.get(name).infer(body); // NOT_FOUND (404) for an unknown name
 *   }
 * }
 */
export class BallastModels {
  /**
   * The serving core the v2 routes answer with (`BallastV2Controller`): the one infer flow,
   * readiness rule, drain, error body and audit line of every Ballast adapter.
   */
  readonly serving: ServingCore<IncomingMessage>;
  /** The serving core's registry (one rule for duplicates: refused). */
  readonly registry: ModelRegistry;
  // The request-aware wrappers that are injected, by registered model, and their calls in flight.
  private readonly wrapped = new Map<RegisteredModel, Model>();
  private readonly drain = new Drain();
  private readonly drainTimeoutMs: number;
  private closed = false;
  private stopping: Promise<unknown> | undefined;

  /**
   * @param models the models to serve; names (with versions) must be unique.
   * @param options how they are served (see {@link BallastModelsOptions}).
   */
  constructor(models: readonly Model[], options: BallastModelsOptions = {}) {
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    const { guard, timeoutMs, requestIdHeader, healthTimeoutMs, onError, log } = options;
    // Only the options given: the serving core's defaults apply to the others.
    const serve: Parameters<typeof createServingCore<IncomingMessage>>[0] = {
      models,
      maxBatch: options.maxBatchSize ?? 1024,
      readinessFollowsBreakers: options.readinessFollowsBreakers === true,
      owner: 'BallastModule',
    };
    if (guard !== undefined) serve.guard = guard;
    if (timeoutMs !== undefined) serve.timeoutMs = timeoutMs;
    if (requestIdHeader !== undefined) serve.requestIdHeader = requestIdHeader;
    if (healthTimeoutMs !== undefined) serve.healthTimeoutMs = healthTimeoutMs;
    if (onError !== undefined) serve.onError = onError;
    if (log !== undefined) serve.log = log;
    this.serving = createServingCore<IncomingMessage>(serve);
    this.registry = this.serving.registry;
    for (const entry of this.registry.all()) this.wrapped.set(entry, this.wrap(entry.original));
  }

  /** The names of the registered models. */
  names(): string[] {
    return this.registry.names();
  }

  /** Whether a model (and version, when given) is registered. */
  has(name: string, version?: string): boolean {
    return this.registry.find(name, version) !== undefined;
  }

  /**
   * The request-aware model registered under `name` (and `version`; without one, the first
   * registered under that name). Throws `NOT_FOUND` for an unknown model or version.
   */
  get<I = unknown, O = unknown>(name: string, version?: string): Model<I, O> {
    return this.wrapped.get(this.registry.resolve(name, version)) as Model<I, O>;
  }

  /** The versions registered under `name` (`undefined` for a model without a version label). */
  versions(name: string): (string | undefined)[] {
    return this.registry.versionsOf(name).map((entry) => entry.original.version);
  }

  /**
   * The input and output signature a model declares, in v2 terms: read from its `inputs` and
   * `outputs` properties when they are arrays of `{ name, type, dims }` (as `@ballast/onnx` models
   * have; symbolic dimensions become -1), else empty. Throws `NOT_FOUND` for an unknown model.
   */
  signature(name: string, version?: string): { inputs: V2TensorMetadata[]; outputs: V2TensorMetadata[] } {
    // specsToV2 answers [] for anything that is not an array of specs.
    type Specs = Parameters<typeof specsToV2>[0];
    const original = this.registry.resolve(name, version).original as Model & { inputs?: Specs; outputs?: Specs };
    return { inputs: specsToV2(original.inputs), outputs: specsToV2(original.outputs) };
  }

  /**
   * The health of one model, by the serving core's one readiness rule: `unavailable` while
   * shutting down or while the model's own (unkeyed) circuit breaker is open and no fallback
   * answers for it (keyed breakers never count); else its own `health()` when it has one, bounded
   * by `healthTimeoutMs` (a slow or throwing check counts as `unavailable`); else ready. Throws
   * `NOT_FOUND` for an unknown model.
   */
  async health(name: string, version?: string): Promise<HealthReport> {
    const state = await this.serving.readinessOf(name, version);
    return state.ready ? { ready: true, status: 'ready' } : { ready: false, status: 'unavailable', message: state.reason ?? 'not ready' };
  }

  /** True when every version of every registered model reports ready (and the application is not shutting down). */
  async ready(): Promise<boolean> {
    return (await this.serving.readiness()).ready;
  }

  /**
   * True once shutdown began: the HTTP server stops taking connections, and answers still being
   * written ask keep-alive clients to reconnect elsewhere (`Connection: close`).
   */
  get isDraining(): boolean {
    return this.serving.draining || this.closed;
  }

  /**
   * Marks the start of shutdown (see {@link isDraining}): the served routes answer new requests
   * 503 with `Retry-After` (as every Ballast adapter does) while those in flight finish;
   * injected models still take calls until {@link close}.
   */
  beginDrain(): void {
    this.stopping ??= this.serving.shutdown({ drainTimeoutMs: this.drainTimeoutMs, closeModels: false });
  }

  /**
   * Stops taking calls, waits up to `drainTimeoutMs` for calls in flight (the serving core's
   * bounded drain), then closes every model once (errors from one `close()` do not stop the
   * others; they are returned).
   */
  async close(drainTimeoutMs = this.drainTimeoutMs): Promise<unknown[]> {
    if (this.closed) return [];
    this.closed = true;
    this.drain.begin();
    this.stopping ??= this.serving.shutdown({ drainTimeoutMs, closeModels: false });
    await Promise.all([this.stopping, this.drain.settled(drainTimeoutMs)]);
    const errors: unknown[] = [];
    for (const { original } of this.registry.all()) {
      try {
        await original.close?.();
      } catch (error) {
        errors.push(error);
      }
    }
    return errors;
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new BallastError('MODEL_UNAVAILABLE', 'the application is shutting down', { retryAfterMs: 1000 }));
    }
    this.drain.enter();
    const done = (): void => this.drain.leave();
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (error) {
      done();
      return Promise.reject(error);
    }
    return promise.finally(done);
  }

  // The injected model adds the request's options (principal, attributes, deadline, signal) and
  // enforces the deadline with core's withDeadline, so a plain defineModel() model answers TIMEOUT
  // on time too; it nests into the model's own pipeline() scope when there is one.
  private wrap(model: Model): Model {
    const wrapped = wrapModel(model, {
      infer: (input: unknown, options?: InferOptions) =>
        this.track(() => withDeadline(withRequestOptions(options), (scoped) => model.infer(input, scoped))),
      ...(model.inferBatch
        ? {
            inferBatch: (inputs: readonly unknown[], options?: InferOptions) =>
              this.track(() => withDeadline(withRequestOptions(options), (scoped) => model.inferBatch!(inputs, scoped))),
          }
        : {}),
      // The registry closes the originals itself, once, on shutdown.
      close: () => Promise.resolve(),
    });
    return Object.freeze(wrapped);
  }
}
