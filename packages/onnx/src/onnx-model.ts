import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import {
  annotate,
  BallastError,
  type BatchingOptions,
  batching,
  channels,
  elementCount,
  type HealthReport,
  hasTypedFailures,
  type Model,
  markTypedFailures,
  now,
  pipeline,
  toBallastError,
} from '@ballast/core';
import { z } from 'zod';
import { type Backend, createBackend, type SessionOptions } from './backend.js';
import { autoProviders, PROVIDER_NAMES, type ProviderAttempt, type ProviderName } from './providers.js';
import { loadSource, type ModelSource } from './source.js';
import {
  ARRAY_TYPES,
  batchInputs,
  type Feed,
  type InputValue,
  inputPreparer,
  isSymbolic,
  type OnnxInputs,
  type OnnxOutputs,
  type PreparedInputs,
  prepareInputs,
  singleFeeds,
  splitOutputs,
  type TensorSpec,
  wholeOutputs,
} from './tensors.js';

/** A sample whose outputs `health()` checks. */
export interface GoldenSample {
  /** Inputs of one call. */
  input: OnnxInputs | InputValue;
  /** Expected values per output name (flat, row-major). */
  output: Record<string, ArrayLike<number> | ArrayLike<bigint>>;
  /** Largest allowed absolute difference per element. Default 1e-4. */
  tolerance?: number;
}

/** Options of {@link onnxModel}. */
export interface OnnxModelOptions extends ModelSource {
  /** Name in errors, events and metrics. Default: the file name without extension, or `onnx`. */
  name?: string;
  /**
   * Execution providers to try, in order, or `'auto'` (per platform: tensorrt, cuda, webgpu on
   * Linux x64; dml, webgpu on Windows; coreml, webgpu on macOS; then cpu). Default `['cpu']`.
   */
  providers?: 'auto' | readonly ProviderName[];
  /**
   * Fail with `MODEL_UNAVAILABLE` instead of falling back: `true` requires the first listed
   * provider, a name requires that one. Default false.
   */
  requireProvider?: boolean | ProviderName;
  /** Worker threads, one session each; 0 runs on the calling thread. Default 0. */
  workers?: number;
  /**
   * Intra-op threads in total, divided between the workers (at least one each). Default with
   * workers: the machine's available parallelism less one, the core the calling thread needs for
   * its own work (batching, validation, I/O); without workers, onnxruntime's own choice.
   */
  intraOpThreads?: number;
  /**
   * Micro-batching of concurrent calls (the core `batching()` middleware; inputs with different
   * trailing shapes never share a batch). Default on when the first input dimension is dynamic,
   * with `maxBatchSize` 64 and two batches in flight on the calling thread, four per worker.
   * `false` turns it off.
   */
  batching?: boolean | Omit<BatchingOptions, 'groupBy'>;
  /**
   * Run one inference per session at load (and reload) so the first caller does not pay for
   * lazy initialisation: `true` (default) uses zeros, an input object uses that input, `false` skips.
   */
  warmUp?: boolean | OnnxInputs;
  /** A sample `health()` runs and compares. */
  golden?: GoldenSample;
  /** Extra onnxruntime session options (graph optimisation level, logging). */
  sessionOptions?: SessionOptions;
}

/**
 * What `reload()` takes. The current `key` is kept unless a new one is given; `path`/`bytes`
 * and `sha256` are kept only when neither a new `path` nor new `bytes` is given.
 */
export type ReloadSource = ModelSource;

/** A loaded ONNX model. */
export interface OnnxModel extends Model<OnnxInputs | InputValue, OnnxOutputs> {
  /** The provider serving now. */
  readonly provider: ProviderName;
  /** Every provider tried by the last successful load, with the reasons of failures. */
  readonly providerAttempts: readonly ProviderAttempt[];
  /** The model's inputs (names, types, dims; symbolic dims are strings). */
  readonly inputs: readonly TensorSpec[];
  /** The model's outputs. */
  readonly outputs: readonly TensorSpec[];
  /** Whether calls take one example each and are batched (first dimension dynamic). */
  readonly perExample: boolean;
  /**
   * Loads a new model and swaps it in without failing calls in flight or arriving meanwhile. A
   * failed load (or a model with other inputs/outputs) leaves the old one serving and rejects.
   */
  reload(source?: ReloadSource): Promise<void>;
  health(): Promise<HealthReport>;
  /** Waits for queued calls, then releases the sessions and workers. */
  close(): Promise<void>;
}

const validProviders = PROVIDER_NAMES.join(', ');
const providerSchema = z.enum(PROVIDER_NAMES as [ProviderName, ...ProviderName[]], {
  error: (issue) => `unknown provider ${JSON.stringify(issue.input)}; valid providers: ${validProviders}`,
});
const providerListSchema = z.array(providerSchema).min(1, `must list at least one provider (${validProviders})`);
const optionsSchema = z
  .object({
    name: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    bytes: z.instanceof(Uint8Array).optional(),
    sha256: z.string().optional(),
    key: z.union([z.string(), z.instanceof(Uint8Array)]).optional(),
    version: z.string().optional(),
    // Not a union: a union reports only "Invalid input", without the valid names.
    providers: z
      .custom<'auto' | readonly ProviderName[]>((value) => value === 'auto' || Array.isArray(value), {
        error: `must be 'auto' or a list of providers (${validProviders})`,
      })
      .superRefine((value, context) => {
        if (value === 'auto') return;
        const list = providerListSchema.safeParse(value);
        for (const issue of list.error?.issues ?? []) context.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      })
      .optional(),
    requireProvider: z
      .union([z.boolean(), providerSchema], { error: `must be true, false or one of the providers (${validProviders})` })
      .optional(),
    workers: z.number().int().min(0).max(256).optional(),
    intraOpThreads: z.number().int().min(1).optional(),
    batching: z.union([z.boolean(), z.object({}).passthrough()]).optional(),
    warmUp: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
    golden: z.object({ input: z.unknown(), output: z.record(z.string(), z.unknown()), tolerance: z.number().min(0).optional() }).optional(),
    sessionOptions: z.object({}).passthrough().optional(),
  })
  .refine((o) => (typeof o.path === 'string') !== o.bytes instanceof Uint8Array, {
    error: 'give exactly one of "path" or "bytes"',
  });

/** A loaded backend with its in-flight count, so a replaced one is closed only once it drains. */
interface LoadedBackend {
  backend: Backend;
  /** Validates a call's inputs against this backend's specs. */
  prepare: (input: unknown) => PreparedInputs;
  active: number;
  retired: boolean;
}

function sameSignature(a: readonly TensorSpec[], b: readonly TensorSpec[]): boolean {
  return (
    a.length === b.length &&
    a.every((spec, i) => {
      const other = b[i] as TensorSpec;
      return (
        spec.name === other.name &&
        spec.type === other.type &&
        spec.dims.length === other.dims.length &&
        spec.dims.every((d, j) => isSymbolic(d) === isSymbolic(other.dims[j] as number | string) && (isSymbolic(d) || d === other.dims[j]))
      );
    })
  );
}

function zeroFeeds(specs: readonly TensorSpec[]): Feed[] {
  // Symbolic dimensions, the batch dimension among them, become 1.
  return specs.map((spec) => {
    const dims = spec.dims.map((d) => (isSymbolic(d) ? 1 : (d as number)));
    const count = elementCount(dims);
    const data = spec.type === 'string' ? new Array<string>(count).fill('') : new ARRAY_TYPES[spec.type](count);
    return { name: spec.name, type: spec.type, dims, data };
  });
}

/** Ends one run on `current`: a replaced backend is closed once its last run is over. */
function leave(current: LoadedBackend): void {
  current.active--;
  if (current.retired && current.active === 0) closeQuietly(current.backend);
}

/** Releases a replaced backend; a failure to release must not fail the reload or a call. */
function closeQuietly(backend: Backend): void {
  backend.close().catch(() => undefined);
}

function compareGolden(golden: GoldenSample, outputs: OnnxOutputs): { ok: boolean; maxError: number; problem?: string } {
  const tolerance = golden.tolerance ?? 1e-4;
  let maxError = 0;
  for (const [name, expected] of Object.entries(golden.output)) {
    const actual = outputs[name];
    if (actual === undefined) return { ok: false, maxError: Number.POSITIVE_INFINITY, problem: `output "${name}" is missing` };
    if (actual.data.length !== expected.length) {
      return {
        ok: false,
        maxError: Number.POSITIVE_INFINITY,
        problem: `output "${name}" has ${actual.data.length} values, expected ${expected.length}`,
      };
    }
    for (let i = 0; i < expected.length; i++) {
      const error = Math.abs(Number(actual.data[i]) - Number(expected[i]));
      if (!(error <= maxError)) maxError = Number.isNaN(error) ? Number.POSITIVE_INFINITY : error;
    }
  }
  return maxError <= tolerance
    ? { ok: true, maxError }
    : { ok: false, maxError, problem: `largest difference ${maxError} exceeds ${tolerance}` };
}

/**
 * Loads an ONNX model into this process and returns a Ballast {@link Model}: inputs validated
 * against the model, execution providers tried in order with clear reasons, concurrent calls
 * batched, optional worker threads, warm-up, health checks and hot reload. Calls take one
 * example each (without the batch dimension) when the model's first dimension is dynamic, and
 * return `{ [output]: { type, dims, data } }`. The model is built with `pipeline()`, so
 * `timeoutMs`, `signal` and the `ballast:infer` tracing apply.
 *
 * @example
 * const model = await onnxModel({ path: 'classifier.onnx', providers: 'auto', workers: 2 });
 * const { probabilities } = await model.infer({ features: [0.1, 2.3, 4.5, 1.0] }, { timeoutMs: 50 });
 * console.log(model.provider, probabilities.data);
 */
export async function onnxModel(options: OnnxModelOptions): Promise<OnnxModel> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new BallastError(
      'CONFIG',
      `onnxModel: invalid options: ${parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}`,
      {
        details: { issues: parsed.error.issues },
      },
    );
  }
  const name = options.name ?? (options.path ? basename(options.path, extname(options.path)).replace(/\.onnx$/, '') : 'onnx');
  const providers =
    options.providers === 'auto' || options.providers === undefined
      ? options.providers === 'auto'
        ? autoProviders()
        : ['cpu' as const]
      : [...options.providers];
  const workers = options.workers ?? 0;
  const threadsPerSession =
    workers > 0
      ? Math.max(1, Math.floor((options.intraOpThreads ?? Math.max(1, availableParallelism() - 1)) / workers))
      : options.intraOpThreads;
  let source: ModelSource = { ...options };
  let version = options.version;

  async function load(from: ModelSource): Promise<Backend> {
    const bytes = await loadSource(from);
    return createBackend({
      bytes,
      providers,
      requireProvider: options.requireProvider ?? false,
      workers,
      threadsPerSession,
      sessionOptions: options.sessionOptions ?? {},
      modelName: name,
    });
  }

  function publishLoad(phase: 'load' | 'reload', started: number, backend: Backend | undefined, error?: unknown): void {
    if (!channels.modelLoad.hasSubscribers) return;
    const attempts = backend?.attempts ?? ((error as BallastError | undefined)?.details?.attempts as ProviderAttempt[] | undefined) ?? [];
    channels.modelLoad.publish({
      model: name,
      ...(version === undefined ? {} : { version }),
      provider: backend?.provider ?? loaded?.backend.provider ?? 'none',
      durationMs: now() - started,
      attempts,
      phase,
      ...(error === undefined ? {} : { error }),
    });
  }

  async function warmUp(backend: Backend, perExample: boolean): Promise<void> {
    if (options.warmUp === false) return;
    if (options.warmUp === undefined || options.warmUp === true) {
      try {
        await backend.warmUp(() => zeroFeeds(backend.inputs));
      } catch {
        // Zeros are only a guess at a valid input; a model that rejects them still serves.
      }
      return;
    }
    const prepared = prepareInputs(backend.inputs, options.warmUp, perExample);
    // Fresh arrays for each session: a worker's may be moved to it.
    await backend.warmUp(() =>
      (perExample ? singleFeeds(prepared) : prepared.feeds).map((f) => ({ ...f, data: f.data.slice() as Feed['data'] })),
    );
  }

  let loaded: LoadedBackend | undefined;
  const started = now();
  let first: Backend;
  try {
    first = await load(source);
  } catch (error) {
    publishLoad('load', started, undefined, error);
    throw error;
  }
  const first0 = first.inputs[0];
  const perExample =
    first0 !== undefined &&
    first0.dims.length > 0 &&
    isSymbolic(first0.dims[0] as number | string) &&
    first.inputs.every((s) => s.dims.length > 0 && isSymbolic(s.dims[0] as number | string));
  try {
    await warmUp(first, perExample);
  } catch (error) {
    await first.close();
    publishLoad('load', started, undefined, error);
    throw toBallastError(error, 'CONFIG', `model "${name}" failed its warm-up: ${(error as Error).message}`);
  }
  // Only symbolic trailing dimensions can split calls into groups; otherwise skip the key.
  const grouped = first.inputs.some((spec) => spec.dims.slice(1).some(isSymbolic));
  loaded = { backend: first, prepare: inputPreparer(first.inputs, perExample, grouped), active: 0, retired: false };
  publishLoad('load', started, first);
  let closed = false;
  let lastReloadError: unknown;
  let reloads = 0;

  /**
   * Runs on the backend serving now and maps its outputs with `finish`; a replaced backend is
   * closed once its last run is over. A promise chain rather than async functions: this runs once
   * per batch, and each await would add a reaction to it.
   */
  function onBackend<T>(run: (backend: Backend) => Promise<Feed[]>, finish: (outputs: Feed[]) => T): Promise<T> {
    const current = loaded as LoadedBackend;
    current.active++;
    let running: Promise<Feed[]>;
    try {
      running = run(current.backend);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (outputs) => {
        leave(current);
        return finish(outputs);
      },
      (error: unknown) => {
        leave(current);
        throw error;
      },
    );
  }

  /*
   * The batch path, in one line: the rows (validated by `prepare` when they were called) are
   * written once, by the backend, into the buffers the run reads; the outputs are split once.
   */
  function runBatch(items: readonly PreparedInputs[]): Promise<OnnxOutputs[]> {
    if (items.length === 0) return Promise.resolve([]);
    const inputs = batchInputs(items);
    const n = items.length;
    return onBackend(
      (backend) => backend.runBatch(inputs),
      (outputs) => splitOutputs(outputs, n),
    );
  }

  const runner: Model<PreparedInputs, OnnxOutputs> = {
    name,
    kind: 'internal',
    async infer(item: PreparedInputs): Promise<OnnxOutputs> {
      if (!perExample) return onBackend((backend) => backend.run(item.feeds), wholeOutputs);
      return (await runBatch([item]))[0] as OnnxOutputs;
    },
    inferBatch: runBatch,
  };

  const batchingEnabled = perExample && options.batching !== false;
  const batchingOptions = typeof options.batching === 'object' ? options.batching : {};
  const maxBatchSize = batchingOptions.maxBatchSize ?? 64;
  const queued = batchingEnabled
    ? batching<PreparedInputs>({
        maxBatchSize,
        // On the calling thread two batches: the next one is already queued in onnxruntime's
        // setImmediate when one finishes. A worker gets four request slots: a worker that finds
        // none ready sleeps, and waking it (Atomics.notify) costs the calling thread 10-30 µs on a
        // loaded 2-core virtual machine, so the more batches wait in its slots while the calling
        // thread turns answers into new batches, the fewer wake-ups. With 256 callers and 1
        // worker (bench/onnx.ts), four slots served 16-42 % more rows/s than two in each of three
        // alternating rounds, the worker found asleep at 63-89 % of batches against 76-95 %.
        maxInFlight: workers > 0 ? 4 * workers : 2,
        ...batchingOptions,
        ...(grouped ? { groupBy: (item: PreparedInputs) => item.groupKey } : {}),
      })(runner)
    : runner;

  const front: Model<OnnxInputs | InputValue, OnnxOutputs> = {
    name,
    ...(version === undefined ? {} : { version }),
    kind: 'internal',
    infer(input, callOptions) {
      if (closed) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `model "${name}" is closed`));
      let prepared: PreparedInputs;
      try {
        prepared = (loaded as LoadedBackend).prepare(input);
      } catch (error) {
        return Promise.reject(toBallastError(error, 'INVALID_INPUT'));
      }
      if (callOptions !== undefined) {
        annotate(callOptions, 'ballast.provider', (loaded as LoadedBackend).backend.provider);
        // Batched calls get the size of their batch from batching() itself.
        if (!batchingEnabled) annotate(callOptions, 'ballast.batch.size', 1);
      }
      return queued.infer(prepared, callOptions);
    },
    async inferBatch(inputs, callOptions) {
      if (closed) throw new BallastError('MODEL_UNAVAILABLE', `model "${name}" is closed`);
      const prepare = (loaded as LoadedBackend).prepare;
      const prepared = inputs.map((input) => prepare(input));
      annotate(callOptions, 'ballast.provider', (loaded as LoadedBackend).backend.provider);
      if (!perExample) return Promise.all(prepared.map((p) => runner.infer(p)));
      // Rows with the same trailing shapes run together, in chunks of maxBatchSize.
      const results = new Array<OnnxOutputs>(prepared.length);
      const groups = new Map<string, number[]>();
      prepared.forEach((p, i) => {
        const list = groups.get(p.groupKey) ?? [];
        list.push(i);
        groups.set(p.groupKey, list);
      });
      for (const indexes of groups.values()) {
        for (let start = 0; start < indexes.length; start += maxBatchSize) {
          const chunk = indexes.slice(start, start + maxBatchSize);
          const outputs = await runBatch(chunk.map((i) => prepared[i] as PreparedInputs));
          chunk.forEach((index, k) => {
            results[index] = outputs[k] as OnnxOutputs;
          });
        }
      }
      return results;
    },
  };
  // With batching, every way `front.infer` fails is a BallastError (its own, and batching()'s,
  // which classifies a batch's failure once), so pipeline() need not classify each call.
  if (hasTypedFailures(queued)) markTypedFailures(front);
  const piped = pipeline(front);

  let reloading: Promise<void> = Promise.resolve();

  async function reloadNow(next: ReloadSource | undefined): Promise<void> {
    if (closed) throw new BallastError('MODEL_UNAVAILABLE', `model "${name}" is closed`);
    // The key carries over; so do path/bytes and their pin when no new path or bytes is given.
    const from: ModelSource =
      next === undefined
        ? source
        : {
            ...(next.path === undefined && next.bytes === undefined
              ? { path: source.path, bytes: source.bytes, sha256: source.sha256 }
              : {}),
            key: source.key,
            ...next,
          };
    const begun = now();
    let backend: Backend | undefined;
    try {
      backend = await load(from);
      const current = (loaded as LoadedBackend).backend;
      if (!sameSignature(backend.inputs, current.inputs) || !sameSignature(backend.outputs, current.outputs)) {
        throw new BallastError('CONFIG', `reload of "${name}": the new model has other inputs or outputs; load it as a new model instead`, {
          details: { inputs: backend.inputs, outputs: backend.outputs },
        });
      }
      await warmUp(backend, perExample);
    } catch (error) {
      if (backend !== undefined) await backend.close();
      lastReloadError = error;
      publishLoad('reload', begun, undefined, error);
      throw toBallastError(error, 'CONFIG');
    }
    const old = loaded as LoadedBackend;
    loaded = { backend, prepare: inputPreparer(backend.inputs, perExample, grouped), active: 0, retired: false };
    source = from;
    if (next?.version !== undefined) version = next.version;
    lastReloadError = undefined;
    reloads++;
    old.retired = true;
    if (old.active === 0) closeQuietly(old.backend);
    publishLoad('reload', begun, backend);
  }

  const model: OnnxModel = {
    name,
    get version() {
      return version;
    },
    kind: 'internal',
    get provider() {
      return (loaded as LoadedBackend).backend.provider;
    },
    get providerAttempts() {
      return (loaded as LoadedBackend).backend.attempts;
    },
    get inputs() {
      return (loaded as LoadedBackend).backend.inputs;
    },
    get outputs() {
      return (loaded as LoadedBackend).backend.outputs;
    },
    perExample,
    infer: piped.infer,
    inferBatch: piped.inferBatch as NonNullable<Model<OnnxInputs | InputValue, OnnxOutputs>['inferBatch']>,
    reload(next?: ReloadSource): Promise<void> {
      // Reloads run one at a time, in call order.
      const run = reloading.then(() => reloadNow(next));
      reloading = run.catch(() => undefined);
      return run;
    },
    async health(): Promise<HealthReport> {
      const current = loaded as LoadedBackend;
      const details: Record<string, unknown> = {
        loaded: !closed,
        provider: current.backend.provider,
        attempts: current.backend.attempts,
        workers,
        reloads,
        ...(lastReloadError === undefined ? {} : { lastReloadError: (lastReloadError as Error).message }),
      };
      if (closed) return { ready: false, status: 'unavailable', message: 'closed', details };
      if (options.golden !== undefined) {
        try {
          const outputs = await piped.infer(options.golden.input, { timeoutMs: 10_000 });
          const check = compareGolden(options.golden, outputs);
          details.golden = check;
          if (!check.ok) return { ready: false, status: 'degraded', message: `golden sample: ${check.problem}`, details };
        } catch (error) {
          details.golden = { ok: false, error: (error as Error).message };
          return { ready: false, status: 'degraded', message: `golden sample failed: ${(error as Error).message}`, details };
        }
      }
      if (lastReloadError !== undefined) {
        return { ready: true, status: 'degraded', message: `last reload failed: ${(lastReloadError as Error).message}`, details };
      }
      return { ready: true, status: 'ready', details };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await reloading;
      await queued.close?.();
      const current = loaded as LoadedBackend;
      current.retired = true;
      if (current.active === 0) await current.backend.close();
    },
  };
  return model;
}
