import { BallastError, type HealthReport, type InferOptions, type Model, withDeadline, wrapModel } from '@ballast/core';
import {
  DEFAULT_HEALTH_TIMEOUT_MS,
  Drain,
  ModelRegistry,
  modelReadiness,
  type OpenBreakers,
  type RegisteredModel,
  specsToV2,
  trackOpenBreakers,
  type V2TensorMetadata,
} from '@ballast/serving';
import { withRequestOptions } from './context.js';

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
  // The serving core's registry (one rule for duplicates: refused) and the request-aware wrappers
  // that are injected, by registered model.
  readonly registry: ModelRegistry;
  private readonly wrapped = new Map<RegisteredModel, Model>();
  private readonly drain = new Drain();
  private closed = false;
  private draining = false;
  // Open circuit breakers, from the `ballast:breaker` events the resilience middleware publish, so
  // readiness follows the serving core's rule.
  private readonly breakers: OpenBreakers;
  private readonly readinessFollowsBreakers: boolean;
  private readonly healthTimeoutMs: number;

  /**
   * @param models the models to serve; names (with versions) must be unique.
   * @param options `readinessFollowsBreakers`: an open breaker makes its model unready even when a
   * fallback answers for it (default false, see `BallastModuleOptions.readinessFollowsBreakers`);
   * `healthTimeoutMs`: how long `health()` may take (default 2000).
   */
  constructor(models: readonly Model[], options: { readinessFollowsBreakers?: boolean; healthTimeoutMs?: number } = {}) {
    this.readinessFollowsBreakers = options.readinessFollowsBreakers === true;
    this.healthTimeoutMs = options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    this.registry = new ModelRegistry(models, 'BallastModule');
    for (const entry of this.registry.all()) this.wrapped.set(entry, this.wrap(entry.original));
    this.breakers = trackOpenBreakers();
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
    const entry = this.registry.resolve(name, version);
    const state = await modelReadiness(name, entry.original, {
      draining: this.isDraining,
      breakers: this.breakers,
      followBreakers: this.readinessFollowsBreakers,
      healthTimeoutMs: this.healthTimeoutMs,
    });
    return state.ready ? { ready: true, status: 'ready' } : { ready: false, status: 'unavailable', message: state.reason ?? 'not ready' };
  }

  /** True when every version of every registered model reports ready (and the application is not shutting down). */
  async ready(): Promise<boolean> {
    if (this.isDraining) return false;
    const reports = await Promise.all(this.registry.all().map((entry) => this.health(entry.original.name, entry.original.version)));
    return reports.every((report) => report.ready);
  }

  /**
   * True once shutdown began: the HTTP server stops taking connections, and answers still being
   * written ask keep-alive clients to reconnect elsewhere (`Connection: close`).
   */
  get isDraining(): boolean {
    return this.drain.draining || this.closed;
  }

  /** Marks the start of shutdown (see {@link isDraining}); calls are still served. */
  beginDrain(): void {
    this.drain.begin();
  }

  /**
   * Stops taking calls, waits up to `drainTimeoutMs` for calls in flight (the serving core's
   * bounded drain), then closes every model once (errors from one `close()` do not stop the
   * others; they are returned).
   */
  async close(drainTimeoutMs = 10_000): Promise<unknown[]> {
    if (this.closed) return [];
    this.closed = true;
    this.drain.begin();
    this.breakers.stop();
    await this.drain.settled(drainTimeoutMs);
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
