import type { MessagePort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { ARRAY_TYPES } from './element-types.js';
import type { Feed, TypedArray } from './tensors.js';

/*
 * The wire between the calling thread (worker-backend.ts) and a session worker
 * (session-worker.ts): the shared-memory layout, the control words and the messages. Both sides
 * import it, so the layout is written once. It imports nothing that needs @ballast/core at run
 * time: the worker loads it on its own.
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
 * Header: [tensor count, then per tensor: name index, type code, rank, dims..., byte offset, length].
 */

/** Int32 words of a slot's header. */
export const HEADER_WORDS = 256;
/** Bytes of a slot's header; the tensors' bytes follow, each at an offset aligned to 8. */
export const HEADER_BYTES = HEADER_WORDS * 4;
/** Slots a worker marks ready in shared memory; requests beyond them go as messages. */
export const SHARED_SLOTS = 32;
/**
 * Bytes of a shared slot, header included (a batch of 64 rows of 250 floats). Larger batches go
 * as messages whose buffers are transferred: a transfer costs the same at any size, while the
 * copies into and out of a slot grow with it.
 */
export const SLOT_BYTES = 64 * 1024;

/** Control word: the doorbell, a counter the worker sleeps on. */
export const DOORBELL = 0;
/** Control words from here on: one ready flag per shared slot (`READY_FLAGS + slot`). */
export const READY_FLAGS = 1;
/** Control word: 1 while the worker sleeps on the doorbell (so only then is it notified). */
export const SLEEPING = READY_FLAGS + SHARED_SLOTS;
/** Int32 words of the control array. */
export const CONTROL_WORDS = SLEEPING + 1;

/** Element types by code in the shared header. */
export const TYPE_CODES = [
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

/** What the worker receives at start (`workerData`). */
export interface SessionWorkerData {
  /** Where requests arrive; the worker reads it between runs. */
  readonly port: MessagePort;
  /** The control array's buffer: [doorbell, a ready flag per shared slot, sleeping flag]. */
  readonly control: SharedArrayBuffer;
}

/** An input or output as the worker describes it (plain data, so it can be posted). */
export interface Metadata {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: (number | string)[];
}

/** Requests on the port, calling thread to worker. */
export type WorkerRequest =
  | { readonly type: 'slot'; readonly slot: number; readonly sab: SharedArrayBuffer }
  | { readonly type: 'run'; readonly slot: number; readonly feeds: readonly Feed[] }
  | { readonly type: 'load'; readonly id: number; readonly bytes: Uint8Array; readonly options: ort.InferenceSession.SessionOptions }
  | { readonly type: 'close'; readonly id: number };

/** The worker's answer to `load` and `close`. */
export interface Reply {
  id: number;
  ok: boolean;
  message?: string;
  inputs?: Metadata[];
  outputs?: Metadata[];
}

/** What the worker posts for a run: the slot's number (outputs in the slot), or a cloned reply. */
export type RunReply = number | { slot: number; ok: boolean; message?: string; outputs?: Feed[] };

/**
 * A tensor as written to a slot; `name` is read only when the writer passes an index by name.
 * Either `data` is copied in, or `write` fills the slot's view of `length` elements itself (a
 * batch's rows, written there with no array in between).
 */
export type WireTensor = {
  readonly name?: string;
  readonly type: string;
  readonly dims: readonly number[];
} & ({ readonly data: unknown } | { readonly length: number; write(target: TypedArray): void });

function align8(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/**
 * Writes numeric tensors into a slot's buffer; false when they must go as a message instead
 * (strings, a type without a code, or too large). Each tensor's name index is `index.get(name)`,
 * or its position when `index` is undefined.
 */
export function writeTensors(sab: SharedArrayBuffer, tensors: readonly WireTensor[], index?: ReadonlyMap<string, number>): boolean {
  let words = 1;
  let bytes = HEADER_BYTES;
  for (const tensor of tensors) {
    const code = TYPE_CODES.indexOf(tensor.type as (typeof TYPE_CODES)[number]);
    if (code < 0) return false;
    words += 5 + tensor.dims.length;
    if ('write' in tensor) bytes += align8(tensor.length * (ARRAYS[code] as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
    else if (ArrayBuffer.isView(tensor.data)) bytes += align8(tensor.data.byteLength);
    else return false;
  }
  if (words > HEADER_WORDS || bytes > sab.byteLength) return false;
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  header[0] = tensors.length;
  let p = 1;
  let offset = HEADER_BYTES;
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i] as WireTensor;
    const code = TYPE_CODES.indexOf(tensor.type as (typeof TYPE_CODES)[number]);
    header[p++] = index === undefined ? i : (index.get(tensor.name as string) ?? -1);
    header[p++] = code;
    header[p++] = tensor.dims.length;
    for (const d of tensor.dims) header[p++] = d;
    header[p++] = offset;
    let byteLength: number;
    if ('write' in tensor) {
      const View = ARRAYS[code] as unknown as { new (buffer: SharedArrayBuffer, offset: number, length: number): TypedArray };
      const view = new View(sab, offset, tensor.length);
      tensor.write(view);
      header[p++] = tensor.length;
      byteLength = view.byteLength;
    } else {
      const data = tensor.data as TypedArray;
      header[p++] = data.length;
      new Uint8Array(sab, offset, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      byteLength = data.byteLength;
    }
    offset += align8(byteLength);
  }
  return true;
}

/** Reads the tensors written into a slot, as fresh (unshared) arrays, named from `names` by index. */
export function readTensors(sab: SharedArrayBuffer, names: readonly string[]): Feed[] {
  const header = new Int32Array(sab, 0, HEADER_WORDS);
  const tensors: Feed[] = [];
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
    tensors.push({ name, type: TYPE_CODES[code] as Feed['type'], dims, data });
  }
  return tensors;
}
