import {
  BallastError,
  elementCount,
  fromV2Datatype,
  isV2Element,
  readBinaryTensor,
  type TensorType,
  type TensorValue,
  toV2Datatype,
  type V2InferRequest,
  type V2Tensor,
} from '@ballast/core';
import { schemaError } from '@ballast/guard';
import { z } from 'zod';
import { V2BinaryBody } from './v2-wire.js';

/*
 * Open Inference Protocol v2 request decoding and response encoding. A model that batches by rows
 * (the default; an ONNX model with a dynamic first dimension) gets one input record per row: every
 * input carries the batch dimension first and shares it, the request is split into rows (input
 * name → `{ data, dims }` without the batch dimension), the rows run concurrently (so a batching
 * model batches them), and per-row outputs (output name → TensorValue) are stacked back with the
 * batch dimension. A model that declares `perExample: false` (an ONNX model with a fixed first
 * dimension, or any model that takes whole tensors) gets the whole tensors in one call, inputs of
 * independent shapes, and its outputs are answered with their own dims.
 */

/** The most dimensions a tensor may have. */
const MAX_RANK = 16;

const tensorSchema = z.object({
  name: z.string().min(1).max(256),
  shape: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(2 ** 31),
    )
    .min(1)
    .max(MAX_RANK),
  datatype: z.string().max(16),
  // Absent when the tensor travels as binary data (`parameters.binary_data_size`).
  data: z.array(z.unknown()).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

/** The zod schema of a v2 infer request envelope (tensor contents are checked separately). */
export const v2RequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z.array(tensorSchema).min(1).max(256),
  outputs: z
    .array(z.object({ name: z.string().min(1).max(256), parameters: z.record(z.string(), z.unknown()).optional() }))
    .max(256)
    .optional(),
});

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * @internal The common, well-formed request checked by hand, without the zod schema, which then
 * only runs (to report issues with paths) when this check fails. For a body with no keys but `id`
 * and `inputs` (and tensors with no keys but `name`, `shape`, `datatype` and `data`) it accepts
 * exactly what the schema accepts; anything else (`parameters`, `outputs`, unknown keys) goes to
 * the schema. Property-tested against the schema in v2.test.ts.
 */
export function isPlainEnvelope(body: unknown): boolean {
  if (!isRecord(body)) return false;
  for (const key in body) if (key !== 'id' && key !== 'inputs') return false;
  if (body.id !== undefined && (typeof body.id !== 'string' || body.id.length > 256)) return false;
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 256) return false;
  for (const tensor of inputs) {
    if (!isRecord(tensor)) return false;
    for (const key in tensor) if (key !== 'name' && key !== 'shape' && key !== 'datatype' && key !== 'data') return false;
    const { name, shape, datatype, data } = tensor;
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) return false;
    if (typeof datatype !== 'string' || datatype.length > 16 || (data !== undefined && !Array.isArray(data))) return false;
    if (!Array.isArray(shape) || shape.length === 0 || shape.length > MAX_RANK) return false;
    for (const d of shape) if (!Number.isInteger(d) || d < 0 || d > 2 ** 31) return false;
  }
  return true;
}

/** One input tensor of one row (flat data without the batch dimension, and its dims), or a whole tensor. */
export interface RowTensor {
  /** Flat, row-major data: a typed array for numeric types, an array for BOOL and BYTES. */
  readonly data: ArrayLike<number> | ArrayLike<bigint> | readonly boolean[] | readonly string[];
  /** Dimensions without the batch dimension (all of them for a whole tensor). */
  readonly dims: readonly number[];
}

/** A decoded request: its id, the number of rows and one input record per row. */
export interface DecodedV2Request {
  /** The request `id`, echoed in the response. */
  id: string | undefined;
  /** Rows (the shared first dimension). */
  batch: number;
  /** One input record per row. */
  rows: Record<string, RowTensor>[];
  /** Every input's full flat data by name (what input guards see). */
  view: Record<string, unknown[]>;
  /** Output names requested, when the request limits them. */
  outputs: string[] | undefined;
  /** True when `rows` holds one record of whole tensors (a model with `perExample: false`). */
  whole: boolean;
}

function invalid(message: string, path: string, extra: Record<string, unknown> = {}): BallastError {
  return new BallastError('INVALID_INPUT', message, { details: { issues: [{ path, message, code: 'tensor' }], ...extra } });
}

// `new Float32Array(array)` copies a plain array of numbers directly; `Float32Array.from` goes
// through the iterator protocol. The values were checked (and bigints made numbers) before.
function typedArrayFor(type: TensorType, values: readonly unknown[]): ArrayLike<number> | ArrayLike<bigint> | boolean[] | string[] {
  switch (type) {
    case 'float32':
      return new Float32Array(values as number[]);
    case 'float64':
      return new Float64Array(values as number[]);
    case 'float16':
      return [...(values as number[])] as unknown as number[];
    case 'int8':
      return new Int8Array(values as number[]);
    case 'uint8':
      return new Uint8Array(values as number[]);
    case 'int16':
      return new Int16Array(values as number[]);
    case 'uint16':
      return new Uint16Array(values as number[]);
    case 'int32':
      return new Int32Array(values as number[]);
    case 'uint32':
      return new Uint32Array(values as number[]);
    case 'int64':
      return BigInt64Array.from(values as (number | bigint)[], (v) => BigInt(v));
    case 'uint64':
      return BigUint64Array.from(values as (number | bigint)[], (v) => BigInt(v));
    case 'bool':
      return values as boolean[];
    case 'string':
      return values as string[];
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Whether `value` is an element of `type`: core's one table for JSON numbers, booleans and
 * strings, and, for INT64 and UINT64, exact `bigint`s (integer literals beyond 2^53, parsed exactly,
 * or binary data) within the type's range.
 */
function isElement(type: TensorType, value: unknown): boolean {
  if (typeof value !== 'bigint') return isV2Element(type, value);
  if (type === 'int64') return value >= INT64_MIN && value <= INT64_MAX;
  if (type === 'uint64') return value >= 0n && value <= UINT64_MAX;
  // A float tensor takes a long integer literal at its nearest value; other integer types are out of range anyway.
  return (type === 'float32' || type === 'float64' || type === 'float16') && isV2Element(type, Number(value));
}

/** The path of input `index` in error details (`inputs[0]`). */
function inputPath(index: number): string {
  return `inputs[${index}]`;
}

/** Whether v2 data is nested (arrays of arrays), to be flattened. */
function isNested(data: readonly unknown[]): boolean {
  for (let i = 0; i < data.length; i++) if (Array.isArray(data[i])) return true;
  return false;
}

/** Checks every element of a flat data array against the datatype; returns the first bad index or -1. */
function badElement(type: TensorType, values: readonly unknown[]): number {
  sawBigInt = false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'bigint') sawBigInt = true;
    if (!isElement(type, value)) return i;
  }
  return -1;
}

/** `values` as a float32 or float64 array when every one is a finite number, else `undefined` (the general check then says which is not). */
function finiteFloats(type: 'float32' | 'float64', values: readonly unknown[]): Float32Array | Float64Array | undefined {
  const out = type === 'float32' ? new Float32Array(values.length) : new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    out[i] = value;
  }
  return out;
}

/** Whether the last {@link badElement} check met a `bigint` (a float tensor then converts them). */
let sawBigInt = false;

/** Options of {@link decodeV2Request}. */
export interface DecodeV2Options {
  /** Most rows one request may carry. Default 4096. */
  maxBatch?: number;
  /**
   * The inputs the model declares (its v2 metadata). An input named here must be sent with exactly
   * this datatype (strict, as Triton and KServe are: `FP64` data for an `FP32` input is refused
   * too), else the request answers 400 naming the input. Inputs not named here are not checked.
   */
  inputs?: readonly V2TensorMetadata[];
  /**
   * Whether the model takes one example per call (rows, the default) or whole tensors (`false`:
   * inputs keep their own shapes, no shared first dimension). What the model declares as its
   * `perExample` (an `@ballast/onnx` model does).
   */
  perExample?: boolean;
}

/**
 * The datatype rule of every adapter: `INVALID_INPUT`
 * (400) when input `name` (at `at`: its index in `inputs`, or its path) is sent as `datatype` but the model declares another one.
 */
export function checkDeclaredDatatype(
  declared: readonly V2TensorMetadata[] | undefined,
  name: string,
  datatype: string,
  at: string | number,
): void {
  if (declared === undefined) return;
  for (const input of declared) {
    if (input.name !== name) continue;
    if (input.datatype !== datatype) {
      throw invalid(
        `input "${name}" has datatype ${input.datatype}, got ${datatype}`,
        `${typeof at === 'number' ? inputPath(at) : at}.datatype`,
        {
          input: name,
          expected: input.datatype,
          got: datatype,
        },
      );
    }
    return;
  }
}

/**
 * Decodes and validates a v2 infer request body (parsed JSON, or a `V2BinaryBody` of the binary
 * tensor data extension) and splits it into rows (or keeps whole tensors, see `perExample`). Throws `INVALID_INPUT`
 * with `details.issues[].path` (`inputs[0].data[3]`) for anything malformed.
 *
 * @example
 * const { rows } = decodeV2Request({ inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] });
 * rows[1]; // { x: { data: Float32Array [4, 5, 6], dims: [3] } }
 */
export function decodeV2Request(body: unknown, options: DecodeV2Options = {}): DecodedV2Request {
  const { maxBatch = 4096, inputs: declared } = options;
  const whole = options.perExample === false;
  const binary = body instanceof V2BinaryBody ? body.binary : undefined;
  const envelope = body instanceof V2BinaryBody ? body.header : body;
  let request: V2InferRequest;
  if (isPlainEnvelope(envelope)) request = envelope as V2InferRequest;
  else {
    const parsed = v2RequestSchema.safeParse(envelope);
    if (!parsed.success) throw schemaError(parsed.error, 'the body is not a valid Open Inference Protocol v2 infer request');
    request = parsed.data as V2InferRequest;
  }
  // Only a request with several inputs can name one twice (most carry one).
  const names = request.inputs.length > 1 ? new Set<string>() : undefined;
  let batch: number | undefined;
  let binaryOffset = 0;
  // Arrays sized up front (a first push() onto `[]` makes room for 17 elements: 152 bytes).
  const columns = new Array<{ name: string; dims: number[]; data: ArrayLike<unknown> }>(request.inputs.length);
  const view: Record<string, unknown[]> = {};
  // A plain loop, and each input's path (`inputs[0]`) built only for an error: on every request
  // a closure per call and a string per input add up.
  for (let index = 0; index < request.inputs.length; index++) {
    const tensor = request.inputs[index] as V2InferRequest['inputs'][number];
    if (names !== undefined) {
      if (names.has(tensor.name)) throw invalid(`input "${tensor.name}" appears twice`, `${inputPath(index)}.name`);
      names.add(tensor.name);
    }
    const type = fromV2Datatype(tensor.datatype);
    if (type === undefined) throw invalid(`unknown datatype "${tensor.datatype}"`, `${inputPath(index)}.datatype`);
    checkDeclaredDatatype(declared, tensor.name, tensor.datatype, index);
    const count = elementCount(tensor.shape);
    let flat: unknown[];
    const size = tensor.parameters?.binary_data_size;
    if (size !== undefined) {
      if (!Number.isSafeInteger(size) || (size as number) < 0)
        throw invalid('binary_data_size must be a byte count', `${inputPath(index)}.parameters.binary_data_size`);
      if (binary === undefined || binaryOffset + (size as number) > binary.length) {
        throw invalid(
          `binary_data_size ${size} runs past the binary data (${binary === undefined ? 'the request has no Inference-Header-Content-Length' : `${binary.length - binaryOffset} bytes left`})`,
          `${inputPath(index)}.parameters.binary_data_size`,
        );
      }
      if (tensor.data !== undefined) throw invalid('a binary tensor has no "data"', `${inputPath(index)}.data`);
      flat = readBinaryTensor(tensor.datatype, count, binary.subarray(binaryOffset, binaryOffset + (size as number)), inputPath(index));
      binaryOffset += size as number;
    } else {
      if (tensor.data === undefined)
        throw invalid('"data" is required (or parameters.binary_data_size with binary data)', `${inputPath(index)}.data`);
      // v2 allows nested data arrays; flatten to at most the tensor's rank (bounded recursion).
      flat = isNested(tensor.data as unknown[]) ? (tensor.data as unknown[]).flat(tensor.shape.length) : (tensor.data as unknown[]);
    }
    if (flat.length !== count) {
      throw invalid(`shape [${tensor.shape.join(', ')}] holds ${count} values but data has ${flat.length}`, `${inputPath(index)}.data`);
    }
    // Float data of plain finite numbers (nearly every request) is checked and copied in one pass.
    let data: ArrayLike<unknown> | undefined = type === 'float32' || type === 'float64' ? finiteFloats(type, flat) : undefined;
    if (data === undefined) {
      const bad = badElement(type, flat);
      if (sawBigInt && (type === 'float32' || type === 'float64' || type === 'float16')) {
        for (let i = 0; i < flat.length; i++) if (typeof flat[i] === 'bigint') flat[i] = Number(flat[i]);
      }
      if (bad !== -1) throw invalid(`element ${bad} is not a valid ${tensor.datatype} value`, `${inputPath(index)}.data[${bad}]`);
      data = typedArrayFor(type, flat);
    }
    const rows = tensor.shape[0] as number;
    if (whole) {
      columns[index] = { name: tensor.name, dims: [...tensor.shape], data };
      view[tensor.name] = flat;
      continue;
    }
    if (batch === undefined) batch = rows;
    else if (rows !== batch) {
      throw invalid(
        `every input of a model that batches by rows must have the same first (batch) dimension: ${rows} here, ${batch} before`,
        `${inputPath(index)}.shape[0]`,
      );
    }
    columns[index] = { name: tensor.name, dims: tensor.shape.slice(1), data };
    view[tensor.name] = flat;
  }
  if (binary !== undefined && binaryOffset !== binary.length) {
    throw invalid(`the binary data holds ${binary.length} bytes but the inputs' binary_data_size add up to ${binaryOffset}`, 'inputs');
  }
  const outputs = request.outputs?.map((o) => o.name);
  if (whole) {
    const record: Record<string, RowTensor> = {};
    for (const column of columns) record[column.name] = { data: column.data as RowTensor['data'], dims: column.dims };
    return { id: request.id, batch: 1, rows: [record], view, outputs, whole: true };
  }
  const rowsCount = batch ?? 0;
  if (rowsCount === 0) throw invalid('the batch dimension must be at least 1', 'inputs[0].shape[0]');
  if (rowsCount > maxBatch) throw invalid(`at most ${maxBatch} rows per request, got ${rowsCount}`, 'inputs[0].shape[0]');
  const rows = new Array<Record<string, RowTensor>>(rowsCount);
  for (let r = 0; r < rowsCount; r++) {
    const row: Record<string, RowTensor> = {};
    for (const column of columns) {
      const size = elementCount(column.dims);
      const data = column.data as unknown as {
        subarray?: (a: number, b: number) => ArrayLike<number>;
        slice: (a: number, b: number) => unknown;
      };
      // A single row is the whole column: no view of it to make.
      const part =
        rowsCount === 1
          ? data
          : typeof data.subarray === 'function'
            ? data.subarray(r * size, (r + 1) * size)
            : data.slice(r * size, (r + 1) * size);
      row[column.name] = { data: part as RowTensor['data'], dims: column.dims };
    }
    rows[r] = row;
  }
  return { id: request.id, batch: rowsCount, rows, view, outputs, whole: false };
}

function isTensorValue(value: unknown): value is TensorValue {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Partial<TensorValue>;
  return (
    typeof t.type === 'string' && Array.isArray(t.dims) && t.data !== undefined && typeof (t.data as ArrayLike<unknown>).length === 'number'
  );
}

// 64-bit integers stay exact: a `bigint` beyond 2^53 is kept (written as an exact literal by
// encodeV2Answer), the rest become numbers.
function toJsonValues(data: TensorValue['data']): (number | boolean | string)[] {
  const out = new Array<number | boolean | string>(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = (data as ArrayLike<unknown>)[i];
    out[i] =
      typeof v === 'bigint' ? (v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : (v as unknown as number)) : (v as number | boolean | string);
  }
  return out;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Stacks per-row model outputs (output name → TensorValue) into v2 output tensors with the batch
 * dimension first. Rows must agree on each output's type and dims. `only` keeps the named outputs
 * (an unknown name is `INVALID_INPUT`).
 *
 * @example
 * encodeV2Outputs([{ y: { type: 'float32', dims: [2], data: new Float32Array([1, 2]) } }]);
 * // [{ name: 'y', shape: [1, 2], datatype: 'FP32', data: [1, 2] }]
 */
export function encodeV2Outputs(rows: readonly unknown[], only?: readonly string[], whole = false): V2Tensor[] {
  const first = rows[0];
  if (typeof first !== 'object' || first === null) {
    throw new BallastError('INTERNAL', 'the model returned no tensor outputs (expected a record of output name → tensor)');
  }
  let names = Object.keys(first);
  if (only !== undefined) {
    for (const name of only) {
      if (!names.includes(name)) throw invalid(`the model has no output "${name}"`, 'outputs', { available: names });
    }
    names = [...only];
  }
  // Sized up front: a first push() onto `[]` gives it room for 17 elements (152 bytes) on every
  // request, where most answers hold one tensor.
  const tensors = new Array<V2Tensor>(names.length);
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    const head = (first as Record<string, unknown>)[name];
    if (!isTensorValue(head)) throw new BallastError('INTERNAL', `the model's output "${name}" is not a tensor`);
    if (whole) {
      tensors[index] = { name, shape: [...head.dims], datatype: toV2Datatype(head.type), data: toJsonValues(head.data) };
      continue;
    }
    if (rows.length === 1) {
      tensors[index] = { name, shape: [1, ...head.dims], datatype: toV2Datatype(head.type), data: toJsonValues(head.data) };
      continue;
    }
    const data: (number | boolean | string)[] = [];
    for (const row of rows) {
      const tensor = (row as Record<string, unknown>)[name];
      if (!isTensorValue(tensor) || tensor.type !== head.type || tensor.dims.join(',') !== head.dims.join(',')) {
        throw new BallastError('INTERNAL', `the model's output "${name}" differs in type or shape between rows`);
      }
      const values = toJsonValues(tensor.data);
      for (const v of values) data.push(v);
    }
    tensors[index] = { name, shape: [rows.length, ...head.dims], datatype: toV2Datatype(head.type), data };
  }
  return tensors;
}

/** One input or output in v2 model metadata. */
export interface V2TensorMetadata {
  /** The tensor name. */
  name: string;
  /** The v2 datatype (`FP32`...). */
  datatype: string;
  /** Dimensions; -1 where variable. */
  shape: number[];
}

/** v2 model metadata (`GET /v2/models/{name}`). */
export interface V2ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

/** Something that can describe its tensors (an `@ballast/onnx` model does). */
interface Describable {
  readonly inputs?: readonly { name: string; type: TensorType; dims: readonly (number | string)[] }[];
  readonly outputs?: readonly { name: string; type: TensorType; dims: readonly (number | string)[] }[];
}

/** Turns tensor specs (symbolic dims as strings) into v2 metadata entries. */
export function specsToV2(specs: Describable['inputs']): V2TensorMetadata[] {
  if (!Array.isArray(specs)) return [];
  return specs.map((spec) => ({
    name: spec.name,
    datatype: toV2Datatype(spec.type) ?? 'BYTES',
    shape: spec.dims.map((d: number | string) => (typeof d === 'number' && d >= 0 ? d : -1)),
  }));
}
