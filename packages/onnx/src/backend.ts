import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BallastError } from '@ballast/core';
import * as ort from 'onnxruntime-node';
import { type ProviderAttempt, type ProviderName, translateProviderError } from './providers.js';
import { type Feed, specsFrom, type TensorSpec } from './tensors.js';

/** onnxruntime session options Ballast passes through (provider and threads are set by Ballast). */
export type SessionOptions = Omit<ort.InferenceSession.SessionOptions, 'executionProviders' | 'intraOpNumThreads'>;

/** A loaded model: one session on the calling thread, or one per worker thread. */
export interface Backend {
  readonly provider: ProviderName;
  readonly attempts: readonly ProviderAttempt[];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Runs one (possibly batched) set of feeds. The feeds' buffers may be transferred. */
  run(feeds: Feed[]): Promise<Feed[]>;
  /** Runs the feeds once on every session (main: once; pool: once per worker). */
  warmUp(feeds: () => Feed[]): Promise<void>;
  close(): Promise<void>;
  /** The worker threads now serving (empty on the calling thread). For diagnostics and tests. */
  readonly threads: readonly Worker[];
}

/** What {@link createBackend} needs. */
export interface BackendOptions {
  bytes: Uint8Array;
  providers: readonly ProviderName[];
  requireProvider: boolean | ProviderName;
  workers: number;
  /** Intra-op threads of each session; undefined lets onnxruntime choose. */
  threadsPerSession: number | undefined;
  sessionOptions: SessionOptions;
  modelName: string;
}

interface Metadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: (number | string)[];
}

function plainMetadata(list: readonly ort.InferenceSession.ValueMetadata[]): Metadata[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false },
  );
}

function sessionOptionsFor(options: BackendOptions, provider: ProviderName): ort.InferenceSession.SessionOptions {
  return {
    // Failed provider attempts are reported by Ballast, translated; onnxruntime's own error log
    // for them would only repeat the raw message on stderr.
    logSeverityLevel: provider === 'cpu' ? 2 : 4,
    ...options.sessionOptions,
    executionProviders: [provider],
    ...(options.threadsPerSession === undefined ? {} : { intraOpNumThreads: options.threadsPerSession }),
  };
}

/**
 * Tries each provider in order with `create`; records every attempt. CPU failing means the model
 * itself does not load (CONFIG); `requireProvider` turns a fallback into MODEL_UNAVAILABLE.
 */
async function attemptProviders<T>(
  options: BackendOptions,
  create: (provider: ProviderName) => Promise<T>,
): Promise<{ value: T; provider: ProviderName; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  const required = options.requireProvider === true ? options.providers[0] : options.requireProvider || undefined;
  if (required !== undefined && !options.providers.includes(required)) {
    throw new BallastError('CONFIG', `requireProvider "${required}" is not in providers [${options.providers.join(', ')}]`);
  }
  let lastError: unknown;
  for (const provider of options.providers) {
    try {
      const value = await create(provider);
      attempts.push({ provider, ok: true });
      if (required !== undefined && provider !== required) {
        await (value as { close?: () => Promise<void> }).close?.();
        break;
      }
      return { value, provider, attempts };
    } catch (error) {
      lastError = error;
      const message = error instanceof Error ? error.message : String(error);
      attempts.push({ provider, ok: false, reason: provider === 'cpu' ? message : translateProviderError(provider, message) });
      if (required !== undefined && provider === required) break;
    }
  }
  const summary = attempts.map((a) => `${a.provider}: ${a.ok ? 'loaded' : a.reason}`).join('; ');
  if (required !== undefined) {
    throw new BallastError(
      'MODEL_UNAVAILABLE',
      `model "${options.modelName}" requires the ${required} provider, which did not load. ${summary}`,
      {
        retryable: false,
        cause: lastError,
        details: { attempts, required },
      },
    );
  }
  const cpuFailed = attempts.some((a) => a.provider === 'cpu' && !a.ok);
  throw new BallastError(
    cpuFailed ? 'CONFIG' : 'MODEL_UNAVAILABLE',
    `model "${options.modelName}" did not load with any provider. ${summary}`,
    { retryable: false, cause: lastError, details: { attempts } },
  );
}

// onnxruntime-node 1.30 turns float16 data into a Float16Array where the JavaScript runtime has
// one (Node 24), and its native binding then reads that as empty ("not enough space"). Keeping the
// raw Uint16Array bits as the tensor's data works on every Node version. The worker does the same.
function toTensor(feed: Feed): ort.Tensor {
  const tensor = new ort.Tensor(feed.type as 'float32', feed.data as Float32Array, feed.dims);
  if (feed.type === 'float16' && feed.data instanceof Uint16Array && (tensor.data as unknown) !== feed.data) {
    (tensor as unknown as { cpuData: Uint16Array }).cpuData = feed.data;
  }
  return tensor;
}

function fromTensor(name: string, tensor: ort.Tensor): Feed {
  return { name, type: tensor.type as Feed['type'], dims: [...tensor.dims], data: tensor.data as Feed['data'] };
}

function runError(modelName: string, error: unknown): BallastError {
  const message = error instanceof Error ? error.message : String(error);
  return new BallastError('INTERNAL', `onnxruntime failed to run model "${modelName}": ${message}`, { cause: error });
}

async function createMainBackend(options: BackendOptions): Promise<Backend> {
  const {
    value: session,
    provider,
    attempts,
  } = await attemptProviders(options, async (p) => {
    const s = await ort.InferenceSession.create(options.bytes, sessionOptionsFor(options, p));
    return Object.assign(s, { close: () => s.release() });
  });
  const inputs = specsFrom(plainMetadata(session.inputMetadata), 'input');
  const outputs = specsFrom(plainMetadata(session.outputMetadata), 'output');
  const outputNames = session.outputNames;
  const run = async (feeds: Feed[]): Promise<Feed[]> => {
    const tensors: Record<string, ort.Tensor> = {};
    for (const feed of feeds) tensors[feed.name] = toTensor(feed);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await session.run(tensors);
    } catch (error) {
      throw runError(options.modelName, error);
    }
    return outputNames.map((name) => fromTensor(name, result[name] as ort.Tensor));
  };
  return {
    provider,
    attempts,
    inputs,
    outputs,
    run,
    warmUp: async (feeds) => {
      await run(feeds());
    },
    close: () => session.release(),
    threads: [],
  };
}

/*
 * The worker's code is a string evaluated as CommonJS, not a file: the package runs from its
 * TypeScript sources in tests and from dist/ when published, and a worker file would need a
 * loader in the first case and a path that survives bundling in the second. It only loads
 * onnxruntime-node (by absolute path) and answers load/run/close messages.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
// Runs in progress: release() must wait for them, and the thread must not be terminated while
// onnxruntime is inside run() (that aborts the whole process).
const running = new Set();
function transferable(data) {
  return ArrayBuffer.isView(data) && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}
parentPort.on('message', async (message) => {
  if (message.type === 'load') {
    try {
      session = await ort.InferenceSession.create(message.bytes, message.options);
      const meta = (list) => list.map((m) => m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: Array.from(m.shape) } : { name: m.name, isTensor: false });
      parentPort.postMessage({ id: message.id, ok: true, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) });
    } catch (error) {
      parentPort.postMessage({ id: message.id, ok: false, message: String(error && error.message || error) });
    }
  } else if (message.type === 'run') {
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    running.add(finished);
    try {
      const feeds = {};
      for (const feed of message.feeds) {
        const tensor = new ort.Tensor(feed.type, feed.data, feed.dims);
        if (feed.type === 'float16' && feed.data instanceof Uint16Array && tensor.data !== feed.data) tensor.cpuData = feed.data;
        feeds[feed.name] = tensor;
      }
      const result = await session.run(feeds);
      const outputs = [];
      const transfer = [];
      for (const name of session.outputNames) {
        const tensor = result[name];
        outputs.push({ name, type: tensor.type, dims: Array.from(tensor.dims), data: tensor.data });
        if (transferable(tensor.data)) transfer.push(tensor.data.buffer);
      }
      try {
        parentPort.postMessage({ id: message.id, ok: true, outputs }, transfer);
      } catch {
        parentPort.postMessage({ id: message.id, ok: true, outputs });
      }
    } catch (error) {
      parentPort.postMessage({ id: message.id, ok: false, message: String(error && error.message || error) });
    } finally {
      running.delete(finished);
      done();
    }
  } else if (message.type === 'close') {
    await Promise.all(running);
    try { if (session) await session.release(); } catch {}
    parentPort.postMessage({ id: message.id, ok: true });
  }
});
`;

let ortPath: string | undefined;
function resolveOrt(): string {
  if (ortPath === undefined) {
    // CommonJS builds have `require`; ES modules resolve from this file's URL (bundlers may leave
    // a `require` stub without `resolve` in ES module output, hence the second check).
    const localRequire = typeof require === 'function' && typeof require.resolve === 'function' ? require : createRequire(import.meta.url);
    ortPath = localRequire.resolve('onnxruntime-node');
  }
  return ortPath;
}

interface Reply {
  id: number;
  ok: boolean;
  message?: string;
  inputs?: Metadata[];
  outputs?: Metadata[] | Feed[];
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
}

/** One worker thread holding one session. */
class SessionWorker {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;
  dead = false;

  constructor(
    private readonly modelName: string,
    private readonly onDeath: (self: SessionWorker) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath: resolveOrt() } });
    // The worker keeps the process alive only while it has work (see request()).
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const entry = this.pending.get(reply.id);
      if (entry === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      entry.resolve(reply);
    });
    const die = (error: unknown) => {
      if (this.dead) return;
      this.dead = true;
      const failure = new BallastError(
        'MODEL_UNAVAILABLE',
        `a worker of model "${this.modelName}" stopped${this.closing ? '' : ' unexpectedly'}`,
        {
          cause: error,
        },
      );
      for (const entry of this.pending.values()) entry.reject(failure);
      this.pending.clear();
      if (!this.closing) this.onDeath(this);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  get busy(): number {
    return this.pending.size;
  }

  request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `a worker of model "${this.modelName}" is not running`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ ...message, id }, transfer);
      } catch (error) {
        // A value that cannot be cloned: fail this request only.
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        reject(new BallastError('INTERNAL', `cannot send the request to a worker of model "${this.modelName}"`, { cause: error }));
      }
    });
  }

  async load(bytes: Uint8Array, sessionOptions: ort.InferenceSession.SessionOptions): Promise<Reply> {
    const reply = await this.request({ type: 'load', bytes, options: sessionOptions });
    if (!reply.ok) throw new Error(reply.message);
    return reply;
  }

  async run(feeds: Feed[]): Promise<Feed[]> {
    const transfer: ArrayBuffer[] = [];
    // The caller's own arrays are copied; Ballast's buffers (batches, converted inputs) move.
    const sent = feeds.map((feed) => (feed.owned === false ? { ...feed, data: feed.data.slice() as Feed['data'], owned: true } : feed));
    for (const feed of sent) {
      if (!Array.isArray(feed.data) && feed.data.byteOffset === 0 && feed.data.byteLength === feed.data.buffer.byteLength) {
        transfer.push(feed.data.buffer as ArrayBuffer);
      }
    }
    const reply = await this.request({ type: 'run', feeds: sent }, transfer);
    if (!reply.ok) throw runError(this.modelName, new Error(reply.message));
    return reply.outputs as Feed[];
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    try {
      await this.request({ type: 'close' });
    } catch {
      // Already gone: nothing to release.
    }
    await this.worker.terminate();
  }
}

async function createWorkerBackend(options: BackendOptions): Promise<Backend> {
  let closed = false;
  const workers: SessionWorker[] = [];
  let chosen: ort.InferenceSession.SessionOptions | undefined;
  // A worker that dies is replaced by a new one with the provider that loaded; its callers fail
  // with MODEL_UNAVAILABLE (retryable), the others keep being served.
  const replace = (dead: SessionWorker): void => {
    const index = workers.indexOf(dead);
    if (closed || index < 0 || chosen === undefined) return;
    const fresh = new SessionWorker(options.modelName, replace);
    fresh.load(options.bytes, chosen).then(
      () => {
        if (closed) void fresh.close();
        else workers[index] = fresh;
      },
      () => void fresh.close(),
    );
  };
  const first = new SessionWorker(options.modelName, replace);
  let metadata: Reply;
  let result: { value: Reply; provider: ProviderName; attempts: ProviderAttempt[] };
  try {
    result = await attemptProviders(options, (p) => first.load(options.bytes, sessionOptionsFor(options, p)));
    metadata = result.value;
  } catch (error) {
    await first.close();
    throw error;
  }
  chosen = sessionOptionsFor(options, result.provider);
  workers.push(first);
  try {
    const rest = Array.from({ length: options.workers - 1 }, () => new SessionWorker(options.modelName, replace));
    workers.push(...rest);
    await Promise.all(rest.map((w) => w.load(options.bytes, chosen as ort.InferenceSession.SessionOptions)));
  } catch (error) {
    await Promise.all(workers.map((w) => w.close()));
    throw new BallastError(
      'MODEL_UNAVAILABLE',
      `model "${options.modelName}" loaded in one worker but not in all: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const inputs = specsFrom(metadata.inputs ?? [], 'input');
  const outputs = specsFrom((metadata.outputs as Metadata[]) ?? [], 'output');
  const pick = (): SessionWorker => {
    let best = workers[0] as SessionWorker;
    for (const w of workers) if (!w.dead && (best.dead || w.busy < best.busy)) best = w;
    return best;
  };
  return {
    provider: result.provider,
    attempts: result.attempts,
    inputs,
    outputs,
    run: (feeds) => pick().run(feeds),
    warmUp: async (feeds) => {
      await Promise.all(workers.map((w) => w.run(feeds())));
    },
    close: async () => {
      closed = true;
      await Promise.all(workers.map((w) => w.close()));
    },
    get threads() {
      return workers.map((w) => w.worker);
    },
  };
}

/** Loads a model with provider attempts, on the calling thread or in `workers` worker threads. */
export function createBackend(options: BackendOptions): Promise<Backend> {
  return options.workers > 0 ? createWorkerBackend(options) : createMainBackend(options);
}
