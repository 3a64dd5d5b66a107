import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { BallastError } from '@ballast/core';
import type * as ort from 'onnxruntime-node';
import type { Backend, BackendOptions } from './backend.js';
import { attemptProviders, sessionOptionsFor } from './provider-attempts.js';
import type { ProviderAttempt, ProviderName } from './providers.js';
import { runError } from './run-error.js';
import { propertyKey } from './runtime-tensors.js';
import { type BatchInput, type Feed, materialize, specsFrom } from './tensors.js';
import {
  CONTROL_WORDS,
  DOORBELL,
  READY_FLAGS,
  type Reply,
  type RunReply,
  readTensors,
  type SessionWorkerData,
  SHARED_SLOTS,
  SLEEPING,
  SLOT_BYTES,
  type WireTensor,
  type WorkerRequest,
  writeTensors,
} from './wire.js';

/*
 * The worker backend: one session per worker thread, requests over the wire of wire.ts, the
 * least busy worker serving each run, a dead worker replaced.
 */

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The worker's entry, next to this module: session-worker.js in the ES module build,
 * session-worker.cjs in the CommonJS one (where bundlers leave `import.meta` empty, hence
 * `__filename`), and session-worker.ts when running from the sources (tests, `tsx
 * --conditions=source`). Node 20 does not apply a loader given in a worker's `execArgv` to the
 * worker's own entry, so from the sources a two-statement bootstrap registers tsx's loader in the
 * worker and then imports the entry.
 */
let entry: { specifier: URL | string; eval: boolean } | undefined;
function workerEntry(): { specifier: URL | string; eval: boolean } {
  if (entry !== undefined) return entry;
  const here = typeof import.meta.url === 'string' ? import.meta.url : pathToFileURL(__filename).href;
  const extension = /\.(ts|cjs|js)$/.exec(new URL(here).pathname)?.[1] ?? 'js';
  const url = new URL(`./session-worker.${extension}`, here);
  if (extension !== 'ts') {
    entry = { specifier: url, eval: false };
    return entry;
  }
  // tsx's ES module API (its CommonJS build of the same API fails to load its own ESM part).
  const tsx = pathToFileURL(
    createRequire(here)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  entry = {
    specifier: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`,
    eval: true,
  };
  return entry;
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
}

/**
 * A request's place and its settlers. The first SHARED_SLOTS slots have a shared buffer (sent to
 * the worker once, `posted`); the others only ever carry messages.
 */
interface RequestSlot {
  readonly index: number;
  readonly sab: SharedArrayBuffer | undefined;
  posted: boolean;
  resolve: (outputs: Feed[]) => void;
  reject: (error: unknown) => void;
}

/** One worker thread holding one session. */
class SessionWorker {
  readonly worker: Worker;
  /** Where requests go; the worker reads it between runs. */
  private readonly requests: MessagePort;
  /** [doorbell, ready flag per shared slot, sleeping flag] shared with the worker, which sleeps on the doorbell. */
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;
  private readonly slots: RequestSlot[] = [];
  /** Free slots with a shared buffer, and free ones without: a shared one is taken first. */
  private readonly freeShared: RequestSlot[] = [];
  private readonly freeOther: RequestSlot[] = [];
  private inputIndex: ReadonlyMap<string, number> = new Map();
  private outputNames: readonly string[] = [];
  private runs = 0;
  dead = false;

  constructor(
    private readonly modelName: string,
    private readonly onDeath: (self: SessionWorker) => void,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.requests = port1;
    const { specifier, eval: evaluated } = workerEntry();
    const data: SessionWorkerData = { port: port2, control: this.control.buffer as SharedArrayBuffer };
    this.worker = new Worker(specifier, {
      eval: evaluated,
      workerData: data,
      transferList: [port2],
    });
    // The worker keeps the process alive only while it has work (see request()).
    this.worker.unref();
    this.worker.on('message', (reply: Reply | RunReply) => {
      if (typeof reply === 'number' || 'slot' in reply) {
        this.settleRun(reply);
        return;
      }
      const entry = this.pending.get(reply.id);
      if (entry === undefined) return;
      this.pending.delete(reply.id);
      this.release();
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
      for (const slot of this.slots) if (!this.freeShared.includes(slot) && !this.freeOther.includes(slot)) slot.reject(failure);
      this.requests.close();
      if (!this.closing) this.onDeath(this);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  /** Requests in flight (runs and control messages). */
  get busy(): number {
    return this.runs + this.pending.size;
  }

  private hold(): void {
    if (this.busy === 0) this.worker.ref();
  }

  private release(): void {
    if (this.busy === 0) this.worker.unref();
  }

  /** Tells the worker there is a request, and wakes it if it sleeps. */
  private ring(): void {
    Atomics.add(this.control, DOORBELL, 1);
    if (Atomics.load(this.control, SLEEPING) === 1) Atomics.notify(this.control, DOORBELL);
  }

  /** Queues a request for the worker and wakes it. */
  private send(message: WorkerRequest, transfer?: ArrayBuffer[]): void {
    this.requests.postMessage(message, transfer);
    this.ring();
  }

  request(message: DistributiveOmit<Extract<WorkerRequest, { id: number }>, 'id'>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `a worker of model "${this.modelName}" is not running`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.hold();
      this.pending.set(id, { resolve, reject });
      try {
        this.send({ ...message, id } as WorkerRequest, transfer);
      } catch (error) {
        // A value that cannot be cloned: fail this request only.
        this.pending.delete(id);
        this.release();
        reject(new BallastError('INTERNAL', `cannot send the request to a worker of model "${this.modelName}"`, { cause: error }));
      }
    });
  }

  async load(bytes: Uint8Array, sessionOptions: ort.InferenceSession.SessionOptions): Promise<Reply> {
    const reply = await this.request({ type: 'load', bytes, options: sessionOptions });
    if (!reply.ok) throw new Error(reply.message);
    // The names arrived in a message: made property keys once here (see propertyKey).
    for (const m of [...(reply.inputs ?? []), ...(reply.outputs ?? [])]) m.name = propertyKey(m.name);
    this.inputIndex = new Map((reply.inputs ?? []).map((m, i) => [m.name, i]));
    this.outputNames = (reply.outputs ?? []).map((m) => m.name);
    return reply;
  }

  private settleRun(reply: RunReply): void {
    const slot = this.slots[typeof reply === 'number' ? reply : reply.slot];
    if (slot === undefined) return;
    this.runs--;
    this.free(slot);
    this.release();
    if (typeof reply === 'number') {
      let outputs: Feed[];
      try {
        outputs = readTensors(slot.sab as SharedArrayBuffer, this.outputNames);
      } catch (error) {
        slot.reject(runError(this.modelName, error));
        return;
      }
      slot.resolve(outputs);
      return;
    }
    if (reply.ok) slot.resolve(reply.outputs as Feed[]);
    else slot.reject(runError(this.modelName, new Error(reply.message)));
  }

  /** Runs whole tensors. */
  run(feeds: Feed[]): Promise<Feed[]> {
    return this.submit(feeds, () =>
      // The caller's own arrays are copied before they move to the worker: moving them would detach them.
      feeds.map((feed) => (feed.owned === false ? { ...feed, data: feed.data.slice() as Feed['data'], owned: true } : feed)),
    );
  }

  /** Runs a batch of rows, written straight into the request's shared slot when they fit. */
  runBatch(inputs: readonly BatchInput[]): Promise<Feed[]> {
    return this.submit(inputs, () => inputs.map((input) => materialize(input)));
  }

  /**
   * Writes `tensors` into a free shared slot and flags it, or, for strings, large tensors and
   * requests beyond the shared slots, posts `asMessage()` with its buffers transferred.
   */
  private submit(tensors: readonly WireTensor[], asMessage: () => Feed[]): Promise<Feed[]> {
    if (this.dead) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `a worker of model "${this.modelName}" is not running`));
    let slot = this.freeShared.pop() ?? (this.slots.length < SHARED_SLOTS ? undefined : this.freeOther.pop());
    if (slot === undefined) {
      const sab = this.slots.length < SHARED_SLOTS ? new SharedArrayBuffer(SLOT_BYTES) : undefined;
      slot = { index: this.slots.length, sab, posted: false, resolve: noop, reject: noop };
      this.slots.push(slot);
    }
    const taken = slot;
    return new Promise<Feed[]>((resolve, reject) => {
      taken.resolve = resolve;
      taken.reject = reject;
      this.hold();
      this.runs++;
      try {
        if (taken.sab !== undefined && writeTensors(taken.sab, tensors, this.inputIndex)) {
          if (!taken.posted) {
            this.requests.postMessage({ type: 'slot', slot: taken.index, sab: taken.sab });
            taken.posted = true;
          }
          Atomics.store(this.control, READY_FLAGS + taken.index, 1);
          this.ring();
        } else {
          // Ballast's own buffers move without a copy.
          const sent = asMessage();
          const transfer: ArrayBuffer[] = [];
          for (const feed of sent) {
            if (!Array.isArray(feed.data) && feed.data.byteOffset === 0 && feed.data.byteLength === feed.data.buffer.byteLength) {
              transfer.push(feed.data.buffer as ArrayBuffer);
            }
          }
          this.send({ type: 'run', slot: taken.index, feeds: sent }, transfer);
        }
      } catch (error) {
        this.runs--;
        this.free(taken);
        this.release();
        reject(new BallastError('INTERNAL', `cannot send the request to a worker of model "${this.modelName}"`, { cause: error }));
      }
    });
  }

  private free(slot: RequestSlot): void {
    (slot.sab === undefined ? this.freeOther : this.freeShared).push(slot);
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

function noop(): void {}

/** Loads a model into `options.workers` worker threads, one session each. */
export async function createWorkerBackend(options: BackendOptions): Promise<Backend> {
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
  let result: { value: Reply; provider: ProviderName; attempts: ProviderAttempt[] };
  try {
    result = await attemptProviders(options, (p) => first.load(options.bytes, sessionOptionsFor(options, p)));
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
  const inputs = specsFrom(result.value.inputs ?? [], 'input');
  const outputs = specsFrom(result.value.outputs ?? [], 'output');
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
    runBatch: (inputs) => pick().runBatch(inputs),
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
