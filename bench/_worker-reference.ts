/**
 * A minimal batcher over worker threads, the reference `bench/onnx.ts` measures Ballast's worker
 * mode against: rows queue with their resolvers; up to `slotsPerWorker` batches per worker are
 * written straight into shared memory; the worker sleeps in `Atomics.wait`, is woken by
 * `Atomics.notify`, runs `session.run` and posts the slot's number back; outputs are split as
 * views. No validation, deadlines, events, error handling or reloads: it is the least work any
 * single-row promise API over worker threads can do, for one float32 input and output.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const { slots, batch, inWidth, outWidth, inputName, outputName } = workerData;
// control: [doorbell, then per slot: state (1 ready, 0 free), rows]
const control = new Int32Array(workerData.control);
const inputs = [];
const outputs = [];
for (let s = 0; s < slots; s++) {
  const base = s * batch * (inWidth + outWidth) * 4;
  inputs.push(new Float32Array(workerData.data, base, batch * inWidth));
  outputs.push(new Float32Array(workerData.data, base + batch * inWidth * 4, batch * outWidth));
}
(async () => {
  const session = await ort.InferenceSession.create(workerData.bytes, { intraOpNumThreads: 1 });
  parentPort.postMessage(-1);
  let seen = 0;
  for (;;) {
    let found = -1;
    while (found < 0) {
      for (let s = 0; s < slots; s++) if (Atomics.load(control, 1 + s) === 1) { found = s; break; }
      if (found >= 0) break;
      if (Atomics.load(control, 0) === seen) Atomics.wait(control, 0, seen);
      seen = Atomics.load(control, 0);
      if (seen < 0) return;
    }
    Atomics.store(control, 1 + found, 2);
    const n = control[1 + slots + found];
    const x = inputs[found].slice(0, n * inWidth);
    const result = await session.run({ [inputName]: new ort.Tensor('float32', x, [n, inWidth]) });
    outputs[found].set(result[outputName].data);
    Atomics.store(control, 1 + found, 0);
    parentPort.postMessage(found);
  }
})();
`;

/** What {@link workerReference} needs. */
export interface WorkerReferenceOptions {
  bytes: Uint8Array;
  workers: number;
  slotsPerWorker: number;
  batch: number;
  inWidth: number;
  outWidth: number;
  inputName: string;
  outputName: string;
}

/**
 * The reference over `workers` threads for the benchmarks' MLP (16 inputs named `input`, 4
 * outputs named `output`), four batches of `batch` rows in flight per worker: the one every ONNX
 * benchmark compares Ballast's workers with.
 */
export function mlpWorkerReference(bytes: Uint8Array, workers: number, batch: number) {
  return workerReference({ bytes, workers, slotsPerWorker: 4, batch, inWidth: 16, outWidth: 4, inputName: 'input', outputName: 'output' });
}

interface Slot {
  control: Int32Array;
  index: number;
  input: Float32Array;
  output: Float32Array;
  pending: ((row: Float32Array) => void)[];
}

/** Starts the workers; resolves once every one has loaded the model. */
export async function workerReference(options: WorkerReferenceOptions) {
  const { workers: count, slotsPerWorker: slots, batch, inWidth, outWidth } = options;
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const free: Slot[] = [];
  const threads: { worker: Worker; control: Int32Array }[] = [];
  let queue: { row: Float32Array; resolve: (row: Float32Array) => void }[] = [];
  let scheduled = false;

  const pump = () => {
    while (free.length > 0 && queue.length > 0) {
      const slot = free.shift() as Slot;
      const take = queue.length > batch ? queue.splice(0, batch) : queue;
      if (take === queue) queue = [];
      for (let i = 0; i < take.length; i++) {
        const item = take[i] as (typeof take)[number];
        slot.input.set(item.row, i * inWidth);
        slot.pending.push(item.resolve);
      }
      slot.control[1 + slots + slot.index] = take.length;
      Atomics.store(slot.control, 1 + slot.index, 1);
      Atomics.add(slot.control, 0, 1);
      Atomics.notify(slot.control, 0);
    }
  };

  const flush = () => {
    scheduled = false;
    pump();
  };

  for (let w = 0; w < count; w++) {
    const slotBytes = batch * (inWidth + outWidth) * 4;
    const data = new SharedArrayBuffer(slotBytes * slots);
    const control = new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * slots)));
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { ...options, ortPath, data, control: control.buffer, slots },
    });
    const own: Slot[] = Array.from({ length: slots }, (_, index) => ({
      control,
      index,
      input: new Float32Array(data, index * slotBytes, batch * inWidth),
      output: new Float32Array(data, index * slotBytes + batch * inWidth * 4, batch * outWidth),
      pending: [],
    }));
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => resolve());
    });
    worker.on('message', (index: number) => {
      const slot = own[index] as Slot;
      const pending = slot.pending;
      slot.pending = [];
      const out = slot.output.slice(0, pending.length * outWidth);
      for (let i = 0; i < pending.length; i++) (pending[i] as (row: Float32Array) => void)(out.subarray(i * outWidth, (i + 1) * outWidth));
      free.push(slot);
      pump();
    });
    free.push(...own);
    threads.push({ worker, control });
  }

  return {
    /** One row in, its output row out. */
    infer(row: Float32Array): Promise<Float32Array> {
      return new Promise((resolve) => {
        queue.push({ row, resolve });
        if (queue.length >= batch) pump();
        else if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
      });
    },
    /** Stops the workers (a negative doorbell ends their loop). */
    async close(): Promise<void> {
      for (const { control } of threads) {
        Atomics.store(control, 0, -1);
        Atomics.notify(control, 0);
      }
      await Promise.all(threads.map(({ worker }) => worker.terminate()));
    },
  };
}
