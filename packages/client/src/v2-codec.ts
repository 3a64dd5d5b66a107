import {
  BallastError,
  elementCount,
  fromV2Datatype,
  isV2Element,
  type NestedArray,
  readBinaryTensor,
  type TensorInput,
  type TensorScalar,
  type TensorType,
  type TensorValue,
  type TypedArray,
  toV2Datatype,
  type V2InferRequest,
  type V2InferResponse,
  type V2Tensor,
  writeBinaryTensor,
} from '@ballast/core';
import { isInteger, isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { z } from 'zod';
import { issueSummaries } from './options-check.js';

/*
 * Open Inference Protocol v2 mapping (JSON over HTTP):
 *
 * - A model input is a record of input name -> value, per example (no batch dimension), as the
 *   in-process ONNX model takes it: a scalar, a (nested) array, a typed array (flat), or
 *   `{ data, dims }`. Each becomes one request tensor `{ name, shape: [1, ...dims], datatype, data }`:
 *   a batch of one, with the data flattened row-major.
 * - datatype: from the typed array (Float32Array -> FP32, BigInt64Array -> INT64, ...), from the
 *   `inputTypes` option, else from the elements: number -> FP32, bigint -> INT64, boolean -> BOOL,
 *   string -> BYTES. int64 values travel as JSON numbers, written and read exactly (beyond 2^53 too).
 * - With `binary`, inputs travel as Triton's binary tensor data extension and the outputs are
 *   asked for as binary data too (`parameters.binary_data_output`).
 * - A response output `{ name, shape: [1, ...dims], datatype, data }` becomes
 *   `{ type, dims, data }` (a TensorValue) with the batch dimension removed: numeric data as the
 *   matching typed array (FP16 decoded to Float32Array), BOOL as booleans, BYTES as strings;
 *   exactly what the in-process ONNX model returns, so the two are interchangeable.
 */

/** A typed array a tensor input may be (the core `TypedArray`). */
export type V2TypedArray = TypedArray;

/** A nested array of scalars. */
export type V2NestedArray = NestedArray<TensorScalar>;

/** One input value, per example: the core `TensorInput`, as the in-process ONNX model takes it. */
export type V2InputValue = TensorInput;

/** A model input: input name -> value. */
export type V2Inputs = Record<string, V2InputValue>;

/** A model output: output name -> tensor (batch dimension removed). */
export type V2Outputs = Record<string, TensorValue>;

const TYPED: [new (...args: never[]) => V2TypedArray, TensorType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int8Array, 'int8'],
  [Int16Array, 'int16'],
  [Int32Array, 'int32'],
  [Uint8Array, 'uint8'],
  [Uint16Array, 'uint16'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

function typedArrayType(value: unknown): TensorType | undefined {
  for (const [ctor, type] of TYPED) if (value instanceof ctor) return type;
  return undefined;
}

function invalid(name: string, message: string): BallastError {
  return new BallastError('INVALID_INPUT', `input "${name}": ${message}`, { details: { input: name } });
}

function scalarType(value: unknown, name: string): TensorType {
  switch (typeof value) {
    case 'number':
      return 'float32';
    case 'bigint':
      return 'int64';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    default:
      throw invalid(name, `unsupported element ${value === null ? 'null' : typeof value}`);
  }
}

function flatten(value: readonly unknown[], name: string): { dims: number[]; data: unknown[] } {
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    dims.push(probe.length);
    probe = probe[0];
  }
  const data: unknown[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth === dims.length) {
      if (Array.isArray(node)) throw invalid(name, 'ragged nested array');
      data.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== dims[depth]) throw invalid(name, 'ragged nested array');
    for (const item of node) walk(item, depth + 1);
  };
  walk(value, 0);
  return { dims, data };
}

function toJsonData(type: TensorType, data: ArrayLike<unknown>, name: string): (number | boolean | string)[] {
  const out: (number | boolean | string)[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw invalid(name, `element ${i} is not a boolean`);
      out[i] = v;
    } else if (type === 'string') {
      if (typeof v !== 'string') throw invalid(name, `element ${i} is not a string`);
      out[i] = v;
    } else if (typeof v === 'bigint') {
      const n = Number(v);
      if (isV2Element(type, n) && BigInt(n) === v) out[i] = n;
      // Beyond 2^53 a 64-bit integer stays a bigint, written as an exact literal (see stringifyV2).
      else if ((type === 'int64' && v >= -(2n ** 63n) && v < 2n ** 63n) || (type === 'uint64' && v >= 0n && v < 2n ** 64n))
        out[i] = v as unknown as number;
      else throw invalid(name, `element ${i} (${v}) is not a valid ${toV2Datatype(type)} value`);
    } else if (typeof v === 'number') {
      // The one range table the server's decoder checks too (core's V2_INTEGER_RANGES).
      if (!isV2Element(type, v)) throw invalid(name, `element ${i} (${v}) is not a valid ${toV2Datatype(type)} value`);
      out[i] = v;
    } else {
      throw invalid(name, `element ${i} is ${v === null ? 'null' : typeof v}, not a number`);
    }
  }
  return out;
}

/**
 * Encodes one input value as a v2 request tensor with a batch dimension of 1.
 *
 * @example
 * encodeV2Input('x', new Float32Array([1, 2])); // { name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }
 */
export function encodeV2Input(name: string, value: V2InputValue, type?: TensorType): V2Tensor {
  let dims: number[];
  let data: ArrayLike<unknown>;
  let inferred: TensorType | undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)) {
    const given = value as { data?: unknown; dims?: unknown };
    if (!Array.isArray(given.dims) || !given.dims.every((d) => Number.isInteger(d) && d >= 0))
      throw invalid(name, 'dims must be non-negative integers');
    if (!Array.isArray(given.data) && !ArrayBuffer.isView(given.data)) throw invalid(name, 'data must be an array or a typed array');
    dims = [...(given.dims as number[])];
    data = given.data as ArrayLike<unknown>;
    if (elementCount(dims) !== data.length)
      throw invalid(name, `dims [${dims.join(', ')}] hold ${elementCount(dims)} values, data has ${data.length}`);
    inferred = typedArrayType(given.data) ?? (data.length > 0 ? scalarType(data[0], name) : 'float32');
  } else if (ArrayBuffer.isView(value)) {
    inferred = typedArrayType(value);
    if (inferred === undefined) throw invalid(name, 'unsupported typed array');
    dims = [(value as V2TypedArray).length];
    data = value as V2TypedArray;
  } else if (Array.isArray(value)) {
    const flat = flatten(value, name);
    dims = flat.dims;
    data = flat.data;
    inferred = data.length > 0 ? scalarType(data[0], name) : 'float32';
  } else {
    dims = [];
    data = [value];
    inferred = scalarType(value, name);
  }
  const finalType = type ?? inferred;
  return { name, shape: [1, ...dims], datatype: toV2Datatype(finalType), data: toJsonData(finalType, data, name) };
}

/**
 * Builds a v2 inference request from a model input (input name -> value), one example.
 *
 * @example
 * encodeV2Request({ x: [[1, 2], [3, 4]] }); // { inputs: [{ name: 'x', shape: [1, 2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] }
 */
export function encodeV2Request(
  input: V2Inputs,
  options: { inputTypes?: Record<string, TensorType>; outputs?: readonly string[]; parameters?: Record<string, unknown> } = {},
): V2InferRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || ArrayBuffer.isView(input)) {
    throw new BallastError('INVALID_INPUT', 'open-inference-v2 input must be a record of input name -> value');
  }
  const inputs: V2Tensor[] = [];
  for (const [name, value] of Object.entries(input)) inputs.push(encodeV2Input(name, value, options.inputTypes?.[name]));
  return {
    inputs,
    ...(options.outputs === undefined ? {} : { outputs: options.outputs.map((name) => ({ name })) }),
    ...(options.parameters === undefined ? {} : { parameters: options.parameters }),
  };
}

const v2TensorSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  datatype: z.string(),
  data: z.array(z.union([z.number(), z.bigint(), z.boolean(), z.string()])),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

/** The zod schema of a v2 inference response (what a remote server must answer). */
export const v2InferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  outputs: z.array(v2TensorSchema),
});

function upstream(message: string, details?: Record<string, unknown>): BallastError {
  return new BallastError('UPSTREAM', message, { retryable: false, ...(details ? { details } : {}) });
}

/** Converts one v2 tensor's JSON data to TensorValue data (the shapes the ONNX model returns). */
export function fromV2Data(type: TensorType, data: readonly (number | boolean | string)[], name = 'output'): TensorValue['data'] {
  const bad = (i: number, what: string) => upstream(`output "${name}": element ${i} is not ${what}`, { output: name });
  switch (type) {
    case 'bool':
      return data.map((v, i) => {
        if (typeof v === 'boolean') return v;
        if (v === 0 || v === 1) return v === 1;
        throw bad(i, 'a boolean');
      });
    case 'string':
      return data.map((v, i) => {
        if (typeof v !== 'string') throw bad(i, 'a string');
        return v;
      });
    case 'int64':
    case 'uint64': {
      const out = type === 'int64' ? new BigInt64Array(data.length) : new BigUint64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i] as unknown;
        if (typeof v === 'bigint') out[i] = v;
        else if (typeof v === 'number' && Number.isInteger(v)) out[i] = BigInt(v);
        else throw bad(i, 'an integer');
      }
      return out;
    }
    default: {
      const Ctor =
        type === 'float16' ? Float32Array : (TYPED.find(([, t]) => t === type)?.[0] as unknown as new (n: number) => Float32Array);
      const out = new Ctor(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i] as unknown;
        // An integer literal beyond 2^53 is parsed exactly (bigint); a float tensor takes its nearest value.
        if (typeof v === 'bigint') out[i] = Number(v);
        else if (typeof v !== 'number') throw bad(i, 'a number');
        else out[i] = v;
      }
      return out;
    }
  }
}

/**
 * Decodes a v2 inference response into output name -> TensorValue, removing the batch dimension
 * of 1. Fails with `UPSTREAM` when the body is not a v2 response, a datatype is unknown, or a
 * shape does not match its data.
 *
 * @example
 * decodeV2Response({ model_name: 'm', outputs: [{ name: 'y', shape: [1, 2], datatype: 'FP32', data: [0.2, 0.8] }] });
 * // { y: { type: 'float32', dims: [2], data: Float32Array [0.2, 0.8] } }
 */
export function decodeV2Response(body: unknown): V2Outputs {
  const parsed = v2InferResponseSchema.safeParse(body);
  if (!parsed.success) {
    throw upstream('response is not an Open Inference Protocol v2 inference response', {
      issues: issueSummaries(parsed.error),
    });
  }
  const response = parsed.data as V2InferResponse;
  const outputs: V2Outputs = {};
  for (const tensor of response.outputs) {
    const type = fromV2Datatype(tensor.datatype);
    if (type === undefined) throw upstream(`output "${tensor.name}": unknown datatype ${tensor.datatype}`, { output: tensor.name });
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw upstream(`output "${tensor.name}": shape [${tensor.shape.join(', ')}] does not match ${tensor.data.length} values`, {
        output: tensor.name,
      });
    }
    // A batch of one comes back as [1, ...dims]; an output without the batch dimension is kept whole.
    const dims = tensor.shape.length > 0 && tensor.shape[0] === 1 ? tensor.shape.slice(1) : tensor.shape;
    outputs[tensor.name] = { type, dims, data: fromV2Data(type, tensor.data, tensor.name) };
  }
  return outputs;
}

// An integer token of 16 or more digits is the only JSON number JSON.parse may round.
const LONG_DIGITS = /\d{16}/;

/**
 * Parses a v2 JSON body keeping integers beyond 2^53 exact (as `bigint`): `JSON.parse` rounds
 * them and its reviver sees the source only from Node 21, so a body with a long digit run goes
 * through `lossless-json` (maintained); any other body through `JSON.parse`.
 *
 * @example
 * parseV2Json('{"data":[9007199254740993]}'); // { data: [9007199254740993n] }
 */
export function parseV2Json(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return parseLossless(text, null, (token) => (isInteger(token) && !isSafeNumber(token) ? BigInt(token) : Number(token)));
}

function holdsBigInt(request: V2InferRequest): boolean {
  for (const tensor of request.inputs) {
    if (tensor.datatype !== 'INT64' && tensor.datatype !== 'UINT64') continue;
    for (const v of tensor.data as unknown[]) if (typeof v === 'bigint') return true;
  }
  return false;
}

/**
 * Writes a v2 request as JSON text, 64-bit integers beyond 2^53 as exact literals.
 *
 * @example
 * stringifyV2({ inputs: [{ name: 'ids', shape: [1], datatype: 'INT64', data: [2n ** 60n as unknown as number] }] });
 */
export function stringifyV2(request: V2InferRequest): string {
  return holdsBigInt(request) ? (stringifyLossless(request) as string) : JSON.stringify(request);
}

/** The header naming the JSON header's length in a binary request or response. */
export const V2_HEADER_LENGTH = 'inference-header-content-length';

/**
 * Writes a v2 request with the binary tensor data extension: every input's data as raw bytes after
 * the JSON header (whose inputs carry `parameters.binary_data_size` and no `data`), and every
 * output asked for as binary data. Returns the body and the `Inference-Header-Content-Length`.
 *
 * @example
 * const { body, headerLength } = encodeV2Binary(encodeV2Request({ x: new Float32Array([1, 2]) }));
 */
export function encodeV2Binary(request: V2InferRequest): { body: Uint8Array; headerLength: number } {
  const parts: Uint8Array[] = [];
  const inputs = request.inputs.map((tensor) => {
    const bytes = writeBinaryTensor(tensor.datatype, tensor.data);
    parts.push(bytes);
    const { data: _data, ...rest } = tensor;
    return { ...rest, parameters: { ...tensor.parameters, binary_data_size: bytes.length } };
  });
  const header = new TextEncoder().encode(
    JSON.stringify({ ...request, inputs, parameters: { ...request.parameters, binary_data_output: true } }),
  );
  let total = header.length;
  for (const part of parts) total += part.length;
  const body = new Uint8Array(total);
  body.set(header, 0);
  let offset = header.length;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return { body, headerLength: header.length };
}

/**
 * Reads a v2 response body: JSON (exact 64-bit integers), or, with `headerLength` (the
 * `Inference-Header-Content-Length` answered), the binary tensor data extension, whose binary
 * outputs get their `data` from the bytes after the header. Malformed bodies are `UPSTREAM`.
 *
 * @example
 * const body = readV2ResponseBody(bytes, response.headers.get('inference-header-content-length'));
 */
export function readV2ResponseBody(bytes: Uint8Array, headerLength: string | null): unknown {
  if (headerLength === null) return parseV2Json(new TextDecoder().decode(bytes));
  const length = Number(headerLength);
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw upstream(`${V2_HEADER_LENGTH} ${headerLength} is not a byte count within the ${bytes.length}-byte response`);
  }
  const header = parseV2Json(new TextDecoder().decode(bytes.subarray(0, length))) as { outputs?: unknown };
  if (!Array.isArray(header.outputs)) return header;
  let offset = length;
  for (const output of header.outputs as {
    datatype?: unknown;
    shape?: unknown;
    data?: unknown;
    parameters?: { binary_data_size?: unknown };
  }[]) {
    const size = output?.parameters?.binary_data_size;
    if (size === undefined) continue;
    if (!Number.isSafeInteger(size) || (size as number) < 0 || offset + (size as number) > bytes.length) {
      throw upstream(`binary_data_size ${String(size)} runs past the response's binary data`);
    }
    const count = Array.isArray(output.shape) ? elementCount(output.shape as number[]) : 0;
    try {
      output.data = readBinaryTensor(String(output.datatype), count, bytes.subarray(offset, offset + (size as number)), 'output');
    } catch (error) {
      throw upstream(`response binary data is malformed: ${(error as Error).message}`);
    }
    offset += size as number;
  }
  return header;
}
