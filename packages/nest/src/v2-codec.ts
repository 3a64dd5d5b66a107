import {
  BallastError,
  elementCount,
  fromV2Datatype,
  type TensorType,
  type TensorValue,
  toV2Datatype,
  type V2InferResponse,
  type V2Tensor,
} from '@ballast/core';

/*
 * Open Inference Protocol v2 <-> per-row tensors. The first dimension of every input is the batch:
 * a request with shape [N, ...] becomes N model inputs `{ [input]: { type, dims, data } }` (batch
 * dimension removed, the shape @ballast/onnx models take), and the N outputs are stacked back into
 * [N, ...] tensors. Kept in this one module; the Express adapter and the remote client need the
 * same mapping, and this is the piece to share once one of them exports it.
 */

/** A decoded v2 infer request. */
export interface DecodedV2Request {
  /** The request id to echo. */
  id: string | undefined;
  /** One model input per row. */
  rows: Record<string, TensorValue>[];
  /** The outputs the caller asked for (all when `undefined`). */
  outputs: string[] | undefined;
  /** Each input's flat data by name: what the guard's input policy and the audit log see. */
  view: Record<string, unknown[]>;
}

const INTEGER_RANGES: Partial<Record<TensorType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32_768, 32_767],
  uint16: [0, 65_535],
  int32: [-2_147_483_648, 2_147_483_647],
  uint32: [0, 4_294_967_295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

function invalid(path: string, message: string, extra: Record<string, unknown> = {}): BallastError {
  return new BallastError('INVALID_INPUT', `${path}: ${message}`, { details: { path, ...extra } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Flattens v2 `data` (flat, or nested row-major arrays as the protocol allows) up to `limit` elements. */
function flatten(data: unknown[], path: string, limit: number): unknown[] {
  const out: unknown[] = [];
  const walk = (value: unknown[], depth: number): void => {
    if (depth > 32) throw invalid(path, 'nested too deeply');
    for (const item of value) {
      if (Array.isArray(item)) walk(item, depth + 1);
      else if (out.push(item) > limit) throw invalid(path, `has more than the ${limit} elements its shape holds`);
    }
  };
  walk(data, 0);
  return out;
}

function typedRow(type: TensorType, values: unknown[], path: string, offset: number): TensorValue['data'] {
  const check = (predicate: (value: unknown) => boolean, what: string): void => {
    for (let i = 0; i < values.length; i++) {
      if (!predicate(values[i])) throw invalid(`${path}.${offset + i}`, `must be ${what}`, { received: String(values[i]).slice(0, 40) });
    }
  };
  switch (type) {
    case 'bool':
      check((v) => typeof v === 'boolean', 'a boolean');
      return values as boolean[];
    case 'string':
      check((v) => typeof v === 'string', 'a string');
      return values as string[];
    case 'float16':
    case 'float32':
    case 'float64': {
      check((v) => typeof v === 'number' && Number.isFinite(v), 'a finite number');
      const numbers = values as number[];
      if (type === 'float32') return Float32Array.from(numbers);
      if (type === 'float64') return Float64Array.from(numbers);
      return numbers;
    }
    default: {
      const [min, max] = INTEGER_RANGES[type] as readonly [number, number];
      check((v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max, `an integer in [${min}, ${max}]`);
      const numbers = values as number[];
      switch (type) {
        case 'int8':
          return Int8Array.from(numbers);
        case 'uint8':
          return Uint8Array.from(numbers);
        case 'int16':
          return Int16Array.from(numbers);
        case 'uint16':
          return Uint16Array.from(numbers);
        case 'int32':
          return Int32Array.from(numbers);
        case 'uint32':
          return Uint32Array.from(numbers);
        case 'int64':
          return BigInt64Array.from(numbers, (v) => BigInt(v));
        default:
          return BigUint64Array.from(numbers, (v) => BigInt(v));
      }
    }
  }
}

/**
 * Checks a v2 infer request body and splits it into rows. Throws `INVALID_INPUT` with
 * `details.path` (e.g. `inputs.0.data.3`) for anything malformed.
 */
export function decodeV2Request(body: unknown, maxBatchSize: number): DecodedV2Request {
  if (!isObject(body)) throw invalid('body', 'must be a JSON object');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw invalid('id', 'must be a string');
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('inputs', 'must be a non-empty array');
  let requested: string[] | undefined;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw invalid('outputs', 'must be an array');
    requested = outputs.map((output, i) => {
      if (!isObject(output) || typeof output.name !== 'string') throw invalid(`outputs.${i}.name`, 'must be a string');
      return output.name;
    });
  }
  let batch: number | undefined;
  const columns: { name: string; type: TensorType; dims: number[]; values: unknown[]; rowSize: number; path: string }[] = [];
  const seen = new Set<string>();
  for (const [index, input] of inputs.entries()) {
    const path = `inputs.${index}`;
    if (!isObject(input)) throw invalid(path, 'must be an object');
    const { name, shape, datatype, data } = input;
    if (typeof name !== 'string' || name.length === 0) throw invalid(`${path}.name`, 'must be a non-empty string');
    if (seen.has(name)) throw invalid(`${path}.name`, `duplicates input "${name}"`);
    seen.add(name);
    const type = typeof datatype === 'string' ? fromV2Datatype(datatype) : undefined;
    if (type === undefined) throw invalid(`${path}.datatype`, 'must be a v2 datatype (BOOL, UINT8 ... FP32, FP64, BYTES)');
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw invalid(`${path}.shape`, 'must be a non-empty array of integers >= 0, batch dimension first');
    }
    const dims = shape as number[];
    if (batch === undefined) batch = dims[0] as number;
    else if (dims[0] !== batch) throw invalid(`${path}.shape.0`, `batch dimension ${dims[0]} differs from ${batch} of inputs.0`);
    if ((dims[0] as number) > maxBatchSize) throw invalid(`${path}.shape.0`, `batch dimension exceeds the limit of ${maxBatchSize}`);
    const expected = elementCount(dims);
    if (!Array.isArray(data)) throw invalid(`${path}.data`, 'must be an array');
    const values = flatten(data, `${path}.data`, expected);
    if (values.length !== expected) {
      throw invalid(`${path}.data`, `has ${values.length} elements, shape [${dims.join(', ')}] needs ${expected}`, {
        expected,
        received: values.length,
      });
    }
    const rowDims = dims.slice(1);
    columns.push({ name, type, dims: rowDims, values, rowSize: elementCount(rowDims), path: `${path}.data` });
  }
  const view: Record<string, unknown[]> = {};
  for (const column of columns) view[column.name] = column.values;
  const rows: Record<string, TensorValue>[] = [];
  for (let r = 0; r < (batch as number); r++) {
    const row: Record<string, TensorValue> = {};
    for (const column of columns) {
      const start = r * column.rowSize;
      const data = typedRow(column.type, column.values.slice(start, start + column.rowSize), column.path, start);
      row[column.name] = { type: column.type, dims: column.dims, data };
    }
    rows.push(row);
  }
  return { id: id as string | undefined, rows, outputs: requested, view };
}

function typeOfData(data: unknown): TensorType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (Array.isArray(data)) {
    if (data.every((v) => typeof v === 'number')) return 'float64';
    if (data.every((v) => typeof v === 'boolean')) return 'bool';
    if (data.every((v) => typeof v === 'string')) return 'string';
  }
  return undefined;
}

function badOutput(model: string, message: string): BallastError {
  return new BallastError('INTERNAL', `model "${model}" returned ${message}`, { details: { model } });
}

/**
 * Stacks per-row model outputs (`{ [output]: { type?, dims, data } }`) into v2 output tensors with
 * the batch dimension first. A model answering something else is an `INTERNAL` error.
 */
export function encodeV2Response(
  model: { name: string; version?: string | undefined },
  id: string | undefined,
  rows: readonly unknown[],
  requested: readonly string[] | undefined,
): V2InferResponse {
  const first = rows[0];
  const names = isObject(first) ? Object.keys(first) : [];
  if (requested !== undefined) {
    for (const [i, name] of requested.entries()) {
      if (!names.includes(name)) throw invalid(`outputs.${i}.name`, `model "${model.name}" has no output "${name}"`);
    }
  }
  const outputs: V2Tensor[] = [];
  for (const name of requested ?? names) {
    let type: TensorType | undefined;
    let rowDims: readonly number[] | undefined;
    const data: (number | boolean | string)[] = [];
    for (const row of rows) {
      const tensor = isObject(row) ? row[name] : undefined;
      if (!isObject(tensor) || !Array.isArray(tensor.dims) || tensor.data === undefined) {
        throw badOutput(model.name, `an output "${name}" that is not a { type, dims, data } tensor`);
      }
      const dims = tensor.dims as number[];
      if (rowDims === undefined) rowDims = dims;
      else if (dims.length !== rowDims.length || dims.some((d, i) => d !== rowDims?.[i])) {
        throw badOutput(model.name, `rows of output "${name}" with different shapes`);
      }
      const rowType = typeof tensor.type === 'string' ? (tensor.type as TensorType) : typeOfData(tensor.data);
      if (rowType === undefined || toV2Datatype(rowType) === undefined) throw badOutput(model.name, `output "${name}" of an unknown type`);
      type ??= rowType;
      for (const value of Array.from(tensor.data as ArrayLike<number | bigint | boolean | string>)) {
        data.push(typeof value === 'bigint' ? Number(value) : value);
      }
    }
    outputs.push({ name, shape: [rows.length, ...(rowDims ?? [])], datatype: toV2Datatype(type ?? 'float32'), data });
  }
  return {
    model_name: model.name,
    ...(model.version === undefined ? {} : { model_version: model.version }),
    ...(id === undefined ? {} : { id }),
    outputs,
  };
}
