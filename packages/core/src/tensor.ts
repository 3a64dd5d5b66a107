/*
 * The tensor shapes packages exchange: in-process ONNX outputs, remote models and the
 * Open Inference Protocol v2 routes all speak these, so a remote copy of a model and the
 * local one return the same thing.
 */

/** Element types, named as ONNX Runtime's JavaScript API names them. */
export type TensorType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string';

/** A tensor value: element type, dimensions and the flat row-major data. */
export interface TensorValue {
  /** Element type. */
  readonly type: TensorType;
  /** Dimensions. */
  readonly dims: readonly number[];
  /** Flat, row-major data (a typed array for numeric types, an array for strings and booleans). */
  readonly data: ArrayLike<number> | ArrayLike<bigint> | readonly string[] | readonly boolean[] | Uint8Array;
}

/** A numeric typed array (flat, row-major tensor data). */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A nested array of values (any depth). */
export interface NestedArray<T> extends ReadonlyArray<T | NestedArray<T>> {}

/** One element of tensor input data. */
export type TensorScalar = number | bigint | boolean | string;

/**
 * One tensor input value, per example: a scalar, a nested array, a typed array (flat, row-major)
 * or `{ data, dims }`. The in-process ONNX model and remote models take the same values, so one
 * can stand in for the other.
 */
export type TensorInput =
  | TensorScalar
  | TypedArray
  | NestedArray<TensorScalar>
  | { readonly data: TypedArray | readonly TensorScalar[]; readonly dims: readonly number[] };

/** Open Inference Protocol v2 datatype names. */
export type V2Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

const TO_V2: Record<TensorType, V2Datatype> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

const FROM_V2 = Object.fromEntries(Object.entries(TO_V2).map(([k, v]) => [v, k])) as Record<V2Datatype, TensorType>;

/**
 * The Open Inference Protocol v2 datatype for a tensor type.
 *
 * @example
 * toV2Datatype('float32'); // 'FP32'
 */
export function toV2Datatype(type: TensorType): V2Datatype {
  return TO_V2[type];
}

/**
 * The tensor type for an Open Inference Protocol v2 datatype, or `undefined` if unknown.
 *
 * @example
 * fromV2Datatype('INT64'); // 'int64'
 */
export function fromV2Datatype(datatype: string): TensorType | undefined {
  return Object.hasOwn(FROM_V2, datatype) ? FROM_V2[datatype as V2Datatype] : undefined;
}

/** One tensor in an Open Inference Protocol v2 request or response. */
export interface V2Tensor {
  name: string;
  shape: number[];
  datatype: V2Datatype;
  /** Flat row-major data (JSON numbers, booleans or strings; int64 as numbers). */
  data: (number | boolean | string)[];
  parameters?: Record<string, unknown>;
}

/** Open Inference Protocol v2 inference request (`POST /v2/models/{name}/infer`). */
export interface V2InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2Tensor[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/** Open Inference Protocol v2 inference response. */
export interface V2InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: V2Tensor[];
}

/** Number of elements a shape holds. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * The integer range each integer tensor type accepts in JSON (Open Inference Protocol v2 data):
 * the type's own range, except that 64-bit integers travel as JSON numbers, so only safe integers
 * (±(2^53 − 1)) are exact: a larger value would silently become another integer. The one table
 * the v2 request decoder (@ballast/serving) and the v2 request encoder (@ballast/client) check.
 */
export const V2_INTEGER_RANGES: Readonly<Partial<Record<TensorType, readonly [min: number, max: number]>>> = Object.freeze({
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
});

/**
 * Whether `value` is a valid JSON element of a v2 tensor of `type`: a boolean for `bool`, a
 * string for `string`, a finite number for floats, an integer within {@link V2_INTEGER_RANGES}
 * for integer types.
 *
 * @example
 * isV2Element('uint8', 256); // false
 * isV2Element('int64', 2 ** 53); // false (not exact as a JSON number)
 */
export function isV2Element(type: TensorType, value: unknown): boolean {
  if (type === 'bool') return typeof value === 'boolean';
  if (type === 'string') return typeof value === 'string';
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  const range = V2_INTEGER_RANGES[type];
  return range === undefined || (Number.isInteger(value) && value >= range[0] && value <= range[1]);
}
