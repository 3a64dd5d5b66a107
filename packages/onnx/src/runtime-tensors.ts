import * as ort from 'onnxruntime-node';
import type { Metadata } from './wire.js';

/*
 * Conversions between Ballast's tensors and onnxruntime's, shared by the calling thread's backend
 * and the session worker. Imports only onnxruntime-node: the worker loads it on its own.
 */

/**
 * A runtime tensor over `data`. onnxruntime-node 1.30 turns float16 data into a Float16Array where
 * the JavaScript runtime has one (Node 24), and its native binding then reads that as empty ("not
 * enough space"). Keeping the raw Uint16Array bits as the tensor's data works on every Node version.
 */
export function toTensor(type: string, data: unknown, dims: readonly number[]): ort.Tensor {
  const tensor = new ort.Tensor(type as 'float32', data as Float32Array, dims);
  if (type === 'float16' && data instanceof Uint16Array && (tensor.data as unknown) !== data) {
    (tensor as unknown as { cpuData: Uint16Array }).cpuData = data;
  }
  return tensor;
}

/**
 * `name` as the string V8 keeps for property keys (internalized). Names the native binding hands
 * over, and every string that crossed threads in a message, arrive as fresh strings; a property
 * written or read with such a key (`results[i][name]`, `feeds[name]`) makes V8's inline cache at
 * that spot megamorphic, a generic lookup on every row (seen with a worker's output names: about
 * 20 ns a row on the calling thread). A property key of an object is always internalized, so this
 * takes it from one.
 */
export function propertyKey(name: string): string {
  return Object.keys({ [name]: 0 })[0] as string;
}

/** Inputs or outputs of a session as plain data (they cross threads as messages), names as property keys. */
export function plainMetadata(list: readonly ort.InferenceSession.ValueMetadata[]): Metadata[] {
  return list.map((m) =>
    m.isTensor
      ? { name: propertyKey(m.name), isTensor: true, type: m.type, shape: [...m.shape] }
      : { name: propertyKey(m.name), isTensor: false },
  );
}
