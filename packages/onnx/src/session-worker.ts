/*
 * The entry of a session worker thread: holds one onnxruntime session and answers the requests
 * of worker-backend.ts, laid out as wire.ts says. It is loaded as a file (worker-backend.ts finds
 * it next to itself: session-worker.ts from the sources, session-worker.js or .cjs in dist), and
 * imports only onnxruntime-node and the wire format.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { plainMetadata, propertyKey, toTensor } from './runtime-tensors.js';
import {
  DOORBELL,
  READY_FLAGS,
  type RunReply,
  readTensors,
  type SessionWorkerData,
  SHARED_SLOTS,
  SLEEPING,
  type WireTensor,
  type WorkerRequest,
  writeTensors,
} from './wire.js';

const parent = parentPort as NonNullable<typeof parentPort>;
const { port: requests, control: controlBuffer } = workerData as SessionWorkerData;
// [doorbell, a ready flag per shared slot, the worker's sleeping flag]
const control = new Int32Array(controlBuffer);
let session: ort.InferenceSession | undefined;
// The session's input and output names as property keys (see propertyKey), read once per load.
let inputNames: readonly string[] = [];
let outputNames: readonly string[] = [];
const slots: SharedArrayBuffer[] = [];

function messageOf(error: unknown): string {
  return String((error as Error | undefined)?.message || error);
}

function transferable(data: unknown): data is ArrayBufferView {
  return ArrayBuffer.isView(data) && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
}

// Outputs as a message, their buffers transferred (moved, not copied).
function cloned(slot: number, names: readonly string[], result: ort.InferenceSession.ReturnType): void {
  const outputs = [];
  const transfer: ArrayBuffer[] = [];
  for (const name of names) {
    const tensor = result[name] as ort.Tensor;
    outputs.push({ name, type: tensor.type, dims: Array.from(tensor.dims), data: tensor.data });
    if (transferable(tensor.data)) transfer.push(tensor.data.buffer as ArrayBuffer);
  }
  const reply = { slot, ok: true, outputs } as RunReply;
  try {
    parent.postMessage(reply, transfer);
  } catch {
    parent.postMessage(reply);
  }
}

// A shared run (message undefined) reads its feeds from the slot and answers there when the
// outputs fit; a cloned run has its feeds in the message and is answered by message.
async function run(slot: number, message?: Extract<WorkerRequest, { type: 'run' }>): Promise<void> {
  try {
    const active = session as ort.InferenceSession;
    const feeds: Record<string, ort.Tensor> = {};
    const tensors = message === undefined ? readTensors(slots[slot] as SharedArrayBuffer, inputNames) : message.feeds;
    for (const feed of tensors) feeds[feed.name] = toTensor(feed.type, feed.data, feed.dims);
    const result = await active.run(feeds);
    const names = outputNames;
    if (
      message === undefined &&
      writeTensors(
        slots[slot] as SharedArrayBuffer,
        names.map((name) => result[name] as WireTensor),
      )
    ) {
      parent.postMessage(slot);
    } else cloned(slot, names, result);
  } catch (error) {
    parent.postMessage({ slot, ok: false, message: messageOf(error) });
  }
}

// One request at a time, in order; false once the session is released.
async function handle(message: WorkerRequest): Promise<boolean> {
  if (message.type === 'slot') {
    slots[message.slot] = message.sab;
  } else if (message.type === 'run') {
    await run(message.slot, message);
  } else if (message.type === 'load') {
    // Failed provider loads stay off stderr (see quietly() in provider-attempts.ts); the reply carries the message.
    const level = ort.env.logLevel;
    if (level === undefined || level === 'warning') ort.env.logLevel = 'fatal';
    try {
      session = await ort.InferenceSession.create(message.bytes, message.options);
      inputNames = session.inputNames.map(propertyKey);
      outputNames = session.outputNames.map(propertyKey);
      parent.postMessage({
        id: message.id,
        ok: true,
        inputs: plainMetadata(session.inputMetadata),
        outputs: plainMetadata(session.outputMetadata),
      });
    } catch (error) {
      parent.postMessage({ id: message.id, ok: false, message: messageOf(error) });
    } finally {
      ort.env.logLevel = level;
    }
  } else if (message.type === 'close') {
    try {
      if (session) await session.release();
    } catch {}
    parent.postMessage({ id: message.id, ok: true });
    return false;
  }
  return true;
}

// The next shared slot marked ready, round robin from the last one served; -1 when none is.
let cursor = 0;
function nextReady(): number {
  for (let k = 0; k < SHARED_SLOTS; k++) {
    const slot = (cursor + k) % SHARED_SLOTS;
    if (Atomics.load(control, READY_FLAGS + slot) === 1) return slot;
  }
  return -1;
}

async function serve(): Promise<void> {
  for (;;) {
    // Read before looking for work: a ring after this read makes the wait below return at once.
    const seen = Atomics.load(control, DOORBELL);
    const entry = receiveMessageOnPort(requests);
    if (entry !== undefined) {
      if (!(await handle(entry.message as WorkerRequest))) break;
      continue;
    }
    const slot = nextReady();
    if (slot >= 0) {
      // A slot's buffer is queued on the port before the slot is first flagged, so a flagged slot
      // without one means the port holds it: read the port again first.
      if (slots[slot] === undefined) continue;
      cursor = slot + 1;
      Atomics.store(control, READY_FLAGS + slot, 0);
      await run(slot);
      continue;
    }
    // The calling thread notifies only a sleeping worker (the notify is a system call); a request
    // it queues after this flag is set is either seen by the wait below or wakes it.
    Atomics.store(control, SLEEPING, 1);
    Atomics.wait(control, DOORBELL, seen);
    Atomics.store(control, SLEEPING, 0);
  }
  requests.close();
}

void serve();
