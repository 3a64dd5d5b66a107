import { BallastError, type HealthReport, type InferOptions, type Model, withDeadline, wrapModel } from '@ballast/core';
import { breakerUnreadiness, type OpenBreakers, specsToV2, trackOpenBreakers, type V2TensorMetadata } from '@ballast/express';
import { withRequestOptions } from './context.js';

/** A registered model: the one given to `forRoot` and the request-aware wrapper that is injected. */
interface Entry {
  readonly original: Model;
  readonly wrapped: Model;
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
  private readonly byName = new Map<string, Entry[]>();
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private closed = false;
  private draining = false;
  // Open circuit breakers, from the `ballast:breaker` events the resilience middleware publish, so
  // readiness reports them like @ballast/express does.
  private readonly breakers: OpenBreakers;
  private readonly readinessFollowsBreakers: boolean;

  /**
   * @param models the models to serve; names (with versions) must be unique.
   * @param options `readinessFollowsBreakers`: an open breaker makes its model unready even when a
   * fallback answers for it (default false, see `BallastModuleOptions.readinessFollowsBreakers`).
   */
  constructor(models: readonly Model[], options: { readinessFollowsBreakers?: boolean } = {}) {
    this.breakers = trackOpenBreakers();
    this.readinessFollowsBreakers = options.readinessFollowsBreakers === true;
    for (const [index, model] of models.entries()) {
      if (typeof model?.infer !== 'function' || typeof model.name !== 'string' || model.name.length === 0) {
        throw new BallastError('CONFIG', `BallastModule: models[${index}] is not a Model (needs a name and infer())`, {
          details: { path: `models.${index}` },
        });
      }
      const versions = this.byName.get(model.name) ?? [];
      if (versions.some((entry) => entry.original.version === model.version)) {
        throw new BallastError(
          'CONFIG',
          `BallastModule: model "${model.name}" version "${model.version ?? '(none)'}" is registered twice`,
          {
            details: { path: `models.${index}`, model: model.name, version: model.version },
          },
        );
      }
      versions.push({ original: model, wrapped: this.wrap(model) });
      this.byName.set(model.name, versions);
    }
  }

  /** The names of the registered models. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Whether a model (and version, when given) is registered. */
  has(name: string, version?: string): boolean {
    return this.find(name, version) !== undefined;
  }

  /**
   * The request-aware model registered under `name` (and `version`; without one, the first
   * registered under that name). Throws `NOT_FOUND` for an unknown model or version.
   */
  get<I = unknown, O = unknown>(name: string, version?: string): Model<I, O> {
    return this.entry(name, version).wrapped as Model<I, O>;
  }

  /** The versions registered under `name` (`undefined` for a model without a version label). */
  versions(name: string): (string | undefined)[] {
    return (this.byName.get(name) ?? []).map((entry) => entry.original.version);
  }

  /**
   * The input and output signature a model declares, in v2 terms: read from its `inputs` and
   * `outputs` properties when they are arrays of `{ name, type, dims }` (as `@ballast/onnx` models
   * have; symbolic dimensions become -1), else empty. Throws `NOT_FOUND` for an unknown model.
   */
  signature(name: string, version?: string): { inputs: V2TensorMetadata[]; outputs: V2TensorMetadata[] } {
    // specsToV2 answers [] for anything that is not an array of specs.
    type Specs = Parameters<typeof specsToV2>[0];
    const original = this.entry(name, version).original as Model & { inputs?: Specs; outputs?: Specs };
    return { inputs: specsToV2(original.inputs), outputs: specsToV2(original.outputs) };
  }

  /**
   * The health of one model: `unavailable` while shutting down or while the model's own (unkeyed)
   * circuit breaker is open and no fallback answers for it (the rule @ballast/express applies;
   * keyed breakers never count), else its own `health()` when it has one (a throwing check counts
   * as `unavailable`), else ready. Throws `NOT_FOUND` for an unknown model.
   */
  async health(name: string, version?: string): Promise<HealthReport> {
    const entry = this.entry(name, version);
    const model = entry.wrapped;
    if (this.isDraining) return { ready: false, status: 'unavailable', message: 'shutting down' };
    const breaker = breakerUnreadiness(this.breakers, name, entry.original, this.readinessFollowsBreakers);
    if (breaker !== undefined) return { ready: false, status: 'unavailable', message: breaker };
    if (model.health === undefined) return { ready: true, status: 'ready' };
    try {
      return await model.health();
    } catch (error) {
      return { ready: false, status: 'unavailable', message: error instanceof Error ? error.message : String(error) };
    }
  }

  /** True when every registered model reports ready (and the application is not shutting down). */
  async ready(): Promise<boolean> {
    if (this.isDraining) return false;
    const checks: Promise<HealthReport>[] = [];
    for (const [name, versions] of this.byName) {
      for (const entry of versions) checks.push(this.health(name, entry.original.version));
    }
    const reports = await Promise.all(checks);
    return reports.every((report) => report.ready);
  }

  /**
   * True once shutdown began: the HTTP server stops taking connections, and answers still being
   * written ask keep-alive clients to reconnect elsewhere (`Connection: close`).
   */
  get isDraining(): boolean {
    return this.draining || this.closed;
  }

  /** Marks the start of shutdown (see {@link isDraining}); calls are still served. */
  beginDrain(): void {
    this.draining = true;
  }

  /**
   * Stops taking calls, waits up to `drainTimeoutMs` for calls in flight, then closes every model
   * once (errors from one `close()` do not stop the others; they are returned).
   */
  async close(drainTimeoutMs = 10_000): Promise<unknown[]> {
    if (this.closed) return [];
    this.closed = true;
    this.breakers.stop();
    if (this.inFlight > 0) {
      // One timer for the whole shutdown, not per call.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainTimeoutMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const errors: unknown[] = [];
    for (const versions of this.byName.values()) {
      for (const { original } of versions) {
        try {
          await original.close?.();
        } catch (error) {
          errors.push(error);
        }
      }
    }
    return errors;
  }

  // The entry of a model (and version), or NOT_FOUND.
  private entry(name: string, version: string | undefined): Entry {
    const entry = this.find(name, version);
    if (entry === undefined) {
      const what = version === undefined ? `model "${name}"` : `model "${name}" version "${version}"`;
      throw new BallastError('NOT_FOUND', `${what} is not served here`, {
        details: version === undefined ? { model: name } : { model: name, version },
      });
    }
    return entry;
  }

  private find(name: string, version: string | undefined): Entry | undefined {
    const versions = this.byName.get(name);
    if (versions === undefined) return undefined;
    return version === undefined ? versions[0] : versions.find((entry) => entry.original.version === version);
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new BallastError('MODEL_UNAVAILABLE', 'the application is shutting down', { retryAfterMs: 1000 }));
    }
    this.inFlight++;
    const done = (): void => {
      if (--this.inFlight === 0) this.drained?.();
    };
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
