import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { BallastError } from '@ballast/core';
import * as ort from 'onnxruntime-node';
import { type ProviderAttempt, type ProviderName, translateProviderError } from './providers.js';
import { ARRAY_TYPES, type Feed, specsFrom, type TensorSpec, type TypedArray } from './tensors.js';

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

/*
 * A provider library that fails to load is reported by onnxruntime's process-wide logger (not the
 * session's, which `logSeverityLevel` governs) as `[E:onnxruntime…]` lines on stderr, even when
 * the CPU fallback then serves; the message is kept in the attempt's reason instead. That logger
 * takes its level from `env.logLevel` once, when the runtime starts (the first session created),
 * so Ballast raises it to `fatal` while it creates sessions, unless the application chose a level
 * other than the default `warning`. Sessions keep logging at their own `logSeverityLevel`
 * (warning for the one that serves; see sessionOptionsFor). A runtime started before, at another
 * level, keeps that level.
 */
const DEFAULT_LOG_LEVEL = 'warning';

/** Runs `attempts` with onnxruntime's process-wide log raised to `fatal` (see above). */
async function quietly<T>(attempts: () => Promise<T>): Promise<T> {
  const previous = ort.env.logLevel;
  if (previous !== undefined && previous !== DEFAULT_LOG_LEVEL) return attempts();
  ort.env.logLevel = 'fatal';
  try {
    return await attempts();
  } finally {
    ort.env.logLevel = previous;
  }
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
  } = await quietly(() =>
    attemptProviders(options, async (p) => {
      const s = await ort.InferenceSession.create(options.bytes, sessionOptionsFor(options, p));
      return Object.assign(s, { close: () => s.release() });
    }),
  );
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
 *
 * Small runs go through shared memory. Each request in flight owns a slot, a SharedArrayBuffer
 * both threads keep: the calling thread writes the feeds into it (a header of int32 words, then
 * each tensor's bytes) and flags the slot; the worker copies them out (onnxruntime does not accept
 * views of shared memory), runs, writes the outputs back the same way and posts the slot's number.
 * Strings and tensors too large for a slot go as messages whose buffers are transferred (moved
 * without a copy), and outputs too large for the slot come back the same way.
 *
 * A shared run is a flag set in a small shared control array (a slot's buffer is sent once, as a
 * message queued before its first flag); other requests are messages on a MessageChannel port the
 * worker reads with receiveMessageOnPort(). Either way the calling thread then rings a doorbell:
 * a shared counter the worker sleeps on with Atomics.wait. Waking a thread through its event loop
 * (what a plain postMessage does) was measured at 60-90 µs per round trip on a 2-core virtual
 * machine, against under 10 µs for the futex behind Atomics.wait (`pnpm bench wakeup`). The
 * worker has nothing else to do, so blocking its thread between runs costs nothing; it goes back
 * to its event loop only inside onnxruntime's own (asynchronous) calls. Replies go to the calling
 * thread as messages, since that thread must not block.
 *
 * Header: [feed count, then per feed: name index, type code, rank, dims..., byte offset, length].
 */
const HEADER_WORDS = 256;
/** Slots a worker marks ready in shared memory; requests beyond them go as messages. */
const SHARED_SLOTS = 32;
/**
 * Bytes of a shared slot, header included (a batch of 64 rows of 250 floats). Larger batches go
 * as messages whose buffers are transferred: a transfer costs the same at any size, while the
 * copies into and out of a slot grow with it.
 */
const SLOT_BYTES = 64 * 1024;
const HEADER_BYTES = HEADER_WORDS * 4;
/** Element types by code in the shared header. */
const TYPE_CODES = [
  'float32',
  'float64',
  'float16',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'bool',
] as const;
/** The typed array for each type code (the runtime's own: bool as bytes, float16 as bits). */
const ARRAYS = TYPE_CODES.map((type) => ARRAY_TYPES[type]);

const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const requests = workerData.port;
// [doorbell, a ready flag per shared slot, the worker's sleeping flag]
const control = new Int32Array(workerData.control);
const SHARED_SLOTS = ${SHARED_SLOTS};
const SLEEPING = 1 + SHARED_SLOTS;
const TYPES = ${JSON.stringify(TYPE_CODES)};
const ARRAYS = [${ARRAYS.map((a) => a.name).join(', ')}];
const HEADER_WORDS = ${HEADER_WORDS};
let session;
const slots = [];
function transferable(data) {
  return ArrayBuffer.isView(data) && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}
function toTensor(type, data, dims) {
  const tensor = new ort.Tensor(type, data, dims);
  if (type === 'float16' && data instanceof Uint16Array && tensor.data !== data) tensor.cpuData = data;
  return tensor;
}
function readFeeds(sab) {
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  const feeds = {};
  let p = 1;
  for (let f = 0; f < header[0]; f++) {
    const name = session.inputNames[header[p++]];
    const code = header[p++];
    const rank = header[p++];
    const dims = [];
    for (let d = 0; d < rank; d++) dims.push(header[p++]);
    const offset = header[p++];
    const length = header[p++];
    const Array = ARRAYS[code];
    const data = new Array(length);
    data.set(new Array(sab, offset, length));
    feeds[name] = toTensor(TYPES[code], data, dims);
  }
  return feeds;
}
// Writes the outputs into the slot; false when they do not fit (or are strings).
function writeOutputs(sab, names, result) {
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  let words = 1;
  let bytes = HEADER_WORDS * 4;
  const codes = [];
  for (const name of names) {
    const tensor = result[name];
    const code = TYPES.indexOf(tensor.type);
    if (code < 0 || !ArrayBuffer.isView(tensor.data)) return false;
    codes.push(code);
    words += 5 + tensor.dims.length;
    bytes += Math.ceil(tensor.data.byteLength / 8) * 8;
  }
  if (words > HEADER_WORDS || bytes > sab.byteLength) return false;
  let p = 1;
  let offset = HEADER_WORDS * 4;
  header[0] = names.length;
  names.forEach((name, i) => {
    const tensor = result[name];
    header[p++] = i;
    header[p++] = codes[i];
    header[p++] = tensor.dims.length;
    for (const d of tensor.dims) header[p++] = d;
    header[p++] = offset;
    header[p++] = tensor.data.length;
    new Uint8Array(sab, offset, tensor.data.byteLength).set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    offset += Math.ceil(tensor.data.byteLength / 8) * 8;
  });
  return true;
}
// Outputs as a message, their buffers transferred (moved, not copied).
function cloned(slot, names, result) {
  const outputs = [];
  const transfer = [];
  for (const name of names) {
    const tensor = result[name];
    outputs.push({ name, type: tensor.type, dims: Array.from(tensor.dims), data: tensor.data });
    if (transferable(tensor.data)) transfer.push(tensor.data.buffer);
  }
  const reply = { slot, ok: true, outputs };
  try {
    parentPort.postMessage(reply, transfer);
  } catch {
    parentPort.postMessage(reply);
  }
}
// A shared run (message undefined) reads its feeds from the slot and answers there when the
// outputs fit; a cloned run has its feeds in the message and is answered by message.
async function run(slot, message) {
  try {
    let feeds;
    if (message === undefined) {
      feeds = readFeeds(slots[slot]);
    } else {
      feeds = {};
      for (const feed of message.feeds) feeds[feed.name] = toTensor(feed.type, feed.data, feed.dims);
    }
    const result = await session.run(feeds);
    if (message === undefined && writeOutputs(slots[slot], session.outputNames, result)) parentPort.postMessage(slot);
    else cloned(slot, session.outputNames, result);
  } catch (error) {
    parentPort.postMessage({ slot, ok: false, message: String(error && error.message || error) });
  }
}
// One request at a time, in order; false once the session is released.
async function handle(message) {
  if (message.type === 'slot') {
    slots[message.slot] = message.sab;
  } else if (message.type === 'run') {
    await run(message.slot, message);
  } else if (message.type === 'load') {
    // Failed provider loads stay off stderr (see quietly() in backend.ts); the reply carries the message.
    const level = ort.env.logLevel;
    if (level === undefined || level === 'warning') ort.env.logLevel = 'fatal';
    try {
      session = await ort.InferenceSession.create(message.bytes, message.options);
      const meta = (list) => list.map((m) => m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: Array.from(m.shape) } : { name: m.name, isTensor: false });
      parentPort.postMessage({ id: message.id, ok: true, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) });
    } catch (error) {
      parentPort.postMessage({ id: message.id, ok: false, message: String(error && error.message || error) });
    } finally {
      ort.env.logLevel = level;
    }
  } else if (message.type === 'close') {
    try { if (session) await session.release(); } catch {}
    parentPort.postMessage({ id: message.id, ok: true });
    return false;
  }
  return true;
}
// The next shared slot marked ready, round robin from the last one served; -1 when none is.
let cursor = 0;
function nextReady() {
  for (let k = 0; k < SHARED_SLOTS; k++) {
    const slot = (cursor + k) % SHARED_SLOTS;
    if (Atomics.load(control, 1 + slot) === 1) return slot;
  }
  return -1;
}
(async () => {
  for (;;) {
    // Read before looking for work: a ring after this read makes the wait below return at once.
    const seen = Atomics.load(control, 0);
    const entry = receiveMessageOnPort(requests);
    if (entry !== undefined) {
      if (!(await handle(entry.message))) break;
      continue;
    }
    const slot = nextReady();
    if (slot >= 0) {
      // A slot's buffer is queued on the port before the slot is first flagged, so a flagged slot
      // without one means the port holds it: read the port again first.
      if (slots[slot] === undefined) continue;
      cursor = slot + 1;
      Atomics.store(control, 1 + slot, 0);
      await run(slot);
      continue;
    }
    // The calling thread notifies only a sleeping worker (the notify is a system call); a request
    // it queues after this flag is set is either seen by the wait below or wakes it.
    Atomics.store(control, SLEEPING, 1);
    Atomics.wait(control, 0, seen);
    Atomics.store(control, SLEEPING, 0);
  }
  requests.close();
})();
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
  outputs?: Metadata[];
}

/** What the worker posts for a run: the slot's number (outputs in the slot), or a cloned reply. */
type RunReply = number | { slot: number; ok: boolean; message?: string; outputs?: Feed[] };

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
}

/**
 * A request's place and its settlers. The first SHARED_SLOTS slots have a shared buffer (sent to
 * the worker once, `posted`); the others only ever carry messages.
 */
interface Slot {
  readonly index: number;
  readonly sab: SharedArrayBuffer | undefined;
  posted: boolean;
  resolve: (outputs: Feed[]) => void;
  reject: (error: unknown) => void;
}

function align8(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/** Writes numeric feeds into a slot's buffer; false when they go as a message instead (strings, or too large). */
function writeFeeds(sab: SharedArrayBuffer, feeds: readonly Feed[], inputIndex: ReadonlyMap<string, number>): boolean {
  let words = 1;
  let bytes = HEADER_BYTES;
  for (const feed of feeds) {
    if (Array.isArray(feed.data)) return false;
    words += 5 + feed.dims.length;
    bytes += align8((feed.data as TypedArray).byteLength);
  }
  if (words > HEADER_WORDS || bytes > sab.byteLength) return false;
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  header[0] = feeds.length;
  let p = 1;
  let offset = HEADER_BYTES;
  for (const feed of feeds) {
    const data = feed.data as TypedArray;
    const code = TYPE_CODES.indexOf(feed.type as (typeof TYPE_CODES)[number]);
    header[p++] = inputIndex.get(feed.name) ?? -1;
    header[p++] = code;
    header[p++] = feed.dims.length;
    for (const d of feed.dims) header[p++] = d;
    header[p++] = offset;
    header[p++] = data.length;
    new Uint8Array(sab, offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    offset += align8(data.byteLength);
  }
  return true;
}

/** Reads the outputs a worker wrote into a slot, as fresh (unshared) arrays. */
function readOutputs(sab: SharedArrayBuffer, names: readonly string[]): Feed[] {
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  const outputs: Feed[] = [];
  let p = 1;
  for (let f = 0; f < (header[0] as number); f++) {
    const name = names[header[p++] as number] as string;
    const code = header[p++] as number;
    const rank = header[p++] as number;
    const dims: number[] = [];
    for (let d = 0; d < rank; d++) dims.push(header[p++] as number);
    const offset = header[p++] as number;
    const length = header[p++] as number;
    const View = ARRAYS[code] as unknown as { new (buffer: SharedArrayBuffer, offset: number, length: number): TypedArray };
    const data = (new View(sab, offset, length) as Float32Array).slice();
    outputs.push({ name, type: TYPE_CODES[code] as Feed['type'], dims, data });
  }
  return outputs;
}

/** One worker thread holding one session. */
class SessionWorker {
  readonly worker: Worker;
  /** Where requests go; the worker reads it between runs. */
  private readonly requests: MessagePort;
  /** [doorbell, ready flag per shared slot, sleeping flag] shared with the worker, which sleeps on the doorbell. */
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * (2 + SHARED_SLOTS)));
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;
  private readonly slots: Slot[] = [];
  /** Free slots with a shared buffer, and free ones without: a shared one is taken first. */
  private readonly freeShared: Slot[] = [];
  private readonly freeOther: Slot[] = [];
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
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ortPath: resolveOrt(), port: port2, control: this.control.buffer },
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
    Atomics.add(this.control, 0, 1);
    if (Atomics.load(this.control, 1 + SHARED_SLOTS) === 1) Atomics.notify(this.control, 0);
  }

  /** Queues a request for the worker and wakes it. */
  private send(message: unknown, transfer?: ArrayBuffer[]): void {
    this.requests.postMessage(message, transfer);
    this.ring();
  }

  request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `a worker of model "${this.modelName}" is not running`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.hold();
      this.pending.set(id, { resolve, reject });
      try {
        this.send({ ...message, id }, transfer);
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
        outputs = readOutputs(slot.sab as SharedArrayBuffer, this.outputNames);
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

  run(feeds: Feed[]): Promise<Feed[]> {
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
        if (taken.sab !== undefined && writeFeeds(taken.sab, feeds, this.inputIndex)) {
          if (!taken.posted) {
            this.requests.postMessage({ type: 'slot', slot: taken.index, sab: taken.sab });
            taken.posted = true;
          }
          Atomics.store(this.control, 1 + taken.index, 1);
          this.ring();
        } else {
          // Strings, large tensors and slots beyond the shared ones: the feeds go as a message.
          // Ballast's buffers (batches, converted inputs) move without a copy; the caller's own
          // arrays are copied first, since moving them would detach them.
          const sent = feeds.map((feed) =>
            feed.owned === false ? { ...feed, data: feed.data.slice() as Feed['data'], owned: true } : feed,
          );
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

  private free(slot: Slot): void {
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
