import {
  BallastError,
  elementCount,
  type NestedArray,
  type TensorInput,
  type TensorType,
  type TensorValue,
  type TypedArray,
} from '@ballast/core';
import { ARRAY_TYPES } from './element-types.js';

/*
 * Input conversion and validation. Every value a caller passes is checked against the model's
 * inputMetadata here, on the calling thread, before it reaches a batch: a bad row fails alone
 * with INVALID_INPUT naming the input, what was expected and what was received, instead of
 * failing the whole batch later with onnxruntime's message.
 */

export type { NestedArray, TypedArray };

/**
 * One input value, per example (without the batch dimension) unless the model's first dimension
 * is fixed: a scalar, a nested array, a typed array (flat, row-major), or `{ data, dims }`.
 * int64/uint64 take `bigint`s, a `BigInt64Array`/`BigUint64Array` or plain safe integers; bool
 * takes booleans; string takes strings; float16 takes numbers (converted) or a `Uint16Array` of
 * half-precision bits.
 */
export type InputValue = TensorInput;

/** Inputs of one call, keyed by input name. */
export type OnnxInputs = Record<string, InputValue>;

/** Outputs of one call, keyed by output name; the batch dimension is removed for batched models. */
export type OnnxOutputs = Record<string, TensorValue>;

/** A model input or output as the runtime describes it. Symbolic dimensions are strings. */
export interface TensorSpec {
  /** Name. */
  readonly name: string;
  /** Element type. */
  readonly type: TensorType;
  /** Dimensions: numbers when fixed, names (or -1) when symbolic. */
  readonly dims: readonly (number | string)[];
}

/** A tensor ready for the runtime. */
export interface Feed {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: number[];
  readonly data: TypedArray | string[];
  /**
   * `false` when `data` is the caller's own array (used without a copy): it must be copied
   * before it is transferred to a worker. Absent or `true`: Ballast's own buffer.
   */
  readonly owned?: boolean;
}

/** One call's validated inputs, and the key of the batch group they may share. */
export interface PreparedInputs {
  readonly feeds: Feed[];
  readonly groupKey: string;
}

export { ARRAY_TYPES };

const INTEGER_RANGES: Partial<Record<TensorType, readonly [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
};

/** Whether a dimension is symbolic (named or unknown). */
export function isSymbolic(dim: number | string): boolean {
  return typeof dim !== 'number' || dim < 0;
}

function formatDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array(${value.length})`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as TypedArray).length})`;
  if (typeof value === 'object') return 'object';
  if (typeof value === 'string') return `string "${value.length > 20 ? `${value.slice(0, 20)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}

function invalid(spec: TensorSpec, expectedDims: readonly (number | string)[], received: string, problem?: string): BallastError {
  const expected = `${spec.type} ${formatDims(expectedDims)}`;
  return new BallastError(
    'INVALID_INPUT',
    `input "${spec.name}": expected ${expected}, received ${received}${problem ? ` (${problem})` : ''}`,
    {
      details: { input: spec.name, expected: { type: spec.type, dims: [...expectedDims] }, received, ...(problem ? { problem } : {}) },
    },
  );
}

/** Infers the shape of a nested array; throws a string on ragged or non-array leaves mixed with arrays. */
function nestedShape(value: readonly unknown[], depthLimit: number): number[] {
  const dims: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    if (dims.length > depthLimit) throw 'nested deeper than the model input';
    dims.push(level.length);
    level = level[0];
  }
  return dims;
}

function flattenInto(value: readonly unknown[], dims: readonly number[], depth: number, out: unknown[]): void {
  const expected = dims[depth] as number;
  if (value.length !== expected) throw `ragged array: a dimension ${depth} of length ${value.length} where ${expected} was expected`;
  if (depth === dims.length - 1) {
    for (const item of value) {
      if (Array.isArray(item)) throw 'ragged array: an array where a scalar was expected';
      out.push(item);
    }
    return;
  }
  for (const item of value) {
    if (!Array.isArray(item)) throw 'ragged array: a scalar where an array was expected';
    flattenInto(item, dims, depth + 1, out);
  }
}

// float32 → IEEE half bits (round to nearest even). Node 20 has no Float16Array, and ORT takes
// float16 data as raw Uint16Array bits.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++;
  if (half >> 10 >= 0x1f) e = 0x1f;
  return sign | (e === 0x1f ? 0x7c00 : half);
}

/** IEEE half bits → number. */
function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** Converts flat scalars to the runtime's array for `type`; throws a string describing the first bad element. */
function convertScalars(type: TensorType, values: ArrayLike<unknown>): TypedArray | string[] {
  const n = values.length;
  if (type === 'string') {
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'string') throw `element ${i} is ${describe(v)}, not a string`;
      out[i] = v;
    }
    return out;
  }
  if (type === 'bool') {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (typeof v !== 'boolean') throw `element ${i} is ${describe(v)}, not a boolean`;
      out[i] = v ? 1 : 0;
    }
    return out;
  }
  if (type === 'int64' || type === 'uint64') {
    const out = type === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
    const [min, max] = type === 'int64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
    for (let i = 0; i < n; i++) {
      const v = values[i];
      let b: bigint;
      if (typeof v === 'bigint') b = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
      else throw `element ${i} is ${describe(v)}, not a bigint or safe integer`;
      if (b < min || b > max) throw `element ${i} (${b}) is out of ${type} range`;
      out[i] = b;
    }
    return out;
  }
  const range = INTEGER_RANGES[type];
  const Constructor = ARRAY_TYPES[type as keyof typeof ARRAY_TYPES];
  const out = new Constructor(n) as Exclude<TypedArray, BigInt64Array | BigUint64Array>;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw `element ${i} is ${describe(v)}, not a finite number`;
    if (range !== undefined && (!Number.isInteger(v) || v < range[0] || v > range[1])) throw `element ${i} (${v}) is not a ${type} integer`;
    out[i] = type === 'float16' ? toHalf(v) : v;
  }
  return out;
}

/**
 * Checks a typed array given for `type`. An array of exactly the runtime's type is used as it is
 * (no copy on the hot path: batching copies it into the batch buffer, and a worker gets a copy);
 * any other numeric array is converted.
 */
function convertTyped(type: TensorType, value: TypedArray): TypedArray | string[] {
  if (type === 'float16' && value instanceof Uint16Array) return value.slice();
  const expected = type === 'string' ? undefined : ARRAY_TYPES[type];
  if (expected !== undefined && value instanceof expected && type !== 'bool') {
    if (type === 'float32' || type === 'float64') {
      for (let i = 0; i < value.length; i++) {
        if (!Number.isFinite(value[i] as number)) throw `element ${i} is ${value[i]}, not a finite number`;
      }
    }
    return value;
  }
  if (type === 'bool' && value instanceof Uint8Array) {
    for (let i = 0; i < value.length; i++) if ((value[i] as number) > 1) throw `element ${i} (${value[i]}) is not 0 or 1`;
    return value.slice();
  }
  return convertScalars(type, value as ArrayLike<unknown>);
}

// The per-example dims of each spec, computed once (specs live as long as their model).
const TRAILING = new WeakMap<TensorSpec, readonly (number | string)[]>();
function trailingDims(spec: TensorSpec): readonly (number | string)[] {
  let dims = TRAILING.get(spec);
  if (dims === undefined) {
    dims = spec.dims.slice(1);
    TRAILING.set(spec, dims);
  }
  return dims;
}

/**
 * Validates one input value against its spec. `batched`: the value is one example (the batch
 * dimension is left out); otherwise it is the whole tensor.
 */
function prepareValue(spec: TensorSpec, value: unknown, batched: boolean): Feed {
  const expectedDims = batched ? trailingDims(spec) : spec.dims;
  if (value === undefined) throw invalid(spec, expectedDims, 'nothing', 'the input is missing');
  let data: TypedArray | string[];
  let dims: number[];
  try {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      data = convertTyped(spec.type, value as TypedArray);
      dims = [data.length];
    } else if (Array.isArray(value)) {
      dims = nestedShape(value, expectedDims.length);
      const flat: unknown[] = [];
      // Also with a zero-length dimension: every sibling must then be empty too.
      flattenInto(value, dims, 0, flat);
      data = convertScalars(spec.type, flat);
    } else if (typeof value === 'object' && value !== null) {
      const tensor = value as { data?: unknown; dims?: unknown };
      if (!Array.isArray(tensor.dims) || !tensor.dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw 'an object must be { data, dims } with dims a list of non-negative integers';
      }
      if (!(Array.isArray(tensor.data) || (ArrayBuffer.isView(tensor.data) && !(tensor.data instanceof DataView)))) {
        throw '"data" must be an array or a typed array';
      }
      dims = [...(tensor.dims as number[])];
      data = Array.isArray(tensor.data) ? convertScalars(spec.type, tensor.data) : convertTyped(spec.type, tensor.data as TypedArray);
      const count = elementCount(dims);
      if (count !== data.length) throw `dims ${formatDims(dims)} hold ${count} values but data has ${data.length}`;
    } else {
      data = convertScalars(spec.type, [value]);
      dims = [];
    }
  } catch (problem) {
    if (typeof problem === 'string') throw invalid(spec, expectedDims, describe(value), problem);
    throw problem;
  }
  // A flat value (typed array, flat array) for a higher-rank input whose dims are all fixed is
  // reshaped; otherwise the rank must match.
  if (dims.length !== expectedDims.length && dims.length <= 1) {
    const fixed = expectedDims.every((d) => !isSymbolic(d));
    if (fixed && data.length === elementCount(expectedDims as number[])) dims = expectedDims.map((d) => d as number);
  }
  if (dims.length !== expectedDims.length) {
    throw invalid(
      spec,
      expectedDims,
      `${spec.type === 'string' ? 'strings' : 'values'} of shape ${formatDims(dims)}`,
      `rank ${dims.length} where ${expectedDims.length} was expected`,
    );
  }
  for (let i = 0; i < dims.length; i++) {
    const want = expectedDims[i] as number | string;
    if (!isSymbolic(want) && dims[i] !== want) {
      throw invalid(spec, expectedDims, `shape ${formatDims(dims)}`, `dimension ${i} is ${dims[i]}, expected ${want}`);
    }
  }
  const borrowed = data === value || data === (value as { data?: unknown }).data;
  return borrowed ? { name: spec.name, type: spec.type, dims, data, owned: false } : { name: spec.name, type: spec.type, dims, data };
}

/*
 * The common call, one input given as a typed array of exactly the runtime's numeric type (bare
 * or as `{ [name]: array }`) for a model whose per-call dims are all fixed, is checked against
 * what {@link inputPreparer} works out once per model: the array type, the element count and the
 * dims. It returns what the general path returns for such a value; anything else, valid or not,
 * goes on to the general path, which also words the errors.
 */
interface FastPlan {
  readonly Constructor: unknown;
  readonly count: number;
  readonly dims: number[];
  readonly finite: boolean;
  /** The group key the general path (prepareGeneral) gives these dims. */
  readonly key: string;
}

function fastPlan(spec: TensorSpec, dims: readonly (number | string)[]): FastPlan | null {
  if (spec.type === 'string' || spec.type === 'bool' || spec.type === 'float16' || dims.some(isSymbolic)) return null;
  return {
    Constructor: ARRAY_TYPES[spec.type],
    count: elementCount(dims as number[]),
    dims: dims as number[],
    finite: spec.type === 'float32' || spec.type === 'float64',
    key: dims.length > 0 ? `${dims.join('x')};` : '',
  };
}

/**
 * Returns a function that validates one call's inputs for these specs, the same as
 * {@link prepareInputs}, with the per-model work (the fast path's plan) done once here. The
 * feeds it returns for the fast path share one `dims` array: Ballast never changes a feed's dims.
 */
export function inputPreparer(specs: readonly TensorSpec[], batched: boolean, grouped = true): (input: unknown) => PreparedInputs {
  const general = (input: unknown) => prepareGeneral(specs, input, batched, grouped);
  const spec = specs.length === 1 ? (specs[0] as TensorSpec) : undefined;
  const plan = spec === undefined ? null : fastPlan(spec, batched ? spec.dims.slice(1) : spec.dims);
  if (spec === undefined || plan === null) return general;
  const { name, type } = spec;
  const { Constructor, count, dims, finite } = plan;
  const template: RowTemplate = { name, type, dims, groupKey: grouped ? plan.key : '' };
  return (input) => {
    if (typeof input !== 'object' || input === null) return general(input);
    let value: unknown = input;
    if (!ArrayBuffer.isView(input)) {
      value = (input as Record<string, unknown>)[name];
      if (!ArrayBuffer.isView(value)) return general(input);
      // Exactly one own key, the input's name (for-in also sees inherited keys: those go the general way).
      let keys = 0;
      for (const _ in input) keys++;
      if (keys !== 1 || !Object.hasOwn(input, name)) return general(input);
    }
    const data = value as TypedArray;
    if (data.constructor !== Constructor || data.length !== count) return general(input);
    if (finite && !finiteSum(data as Float32Array)) return general(input);
    return new PreparedRow(data, template);
  };
}

/*
 * True when the sum of the values is finite, which proves every value finite (NaN and ±Infinity
 * survive any sum). Four running sums keep the additions independent: about twice as fast as a
 * test per element. A finite array whose float64 sum overflows (only possible with values near
 * 1e308) reads as false and goes the general way, which tests each value.
 */
function finiteSum(values: Float32Array | Float64Array): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const n = values.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    a += values[i] as number;
    b += values[i + 1] as number;
    c += values[i + 2] as number;
    d += values[i + 3] as number;
  }
  for (; i < n; i++) a += values[i] as number;
  return (a + b + c + d) * 0 === 0;
}

interface RowTemplate {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: number[];
  readonly groupKey: string;
}

/**
 * A fast-path call: the one input's row (the caller's array) and the model's template. One small
 * object per call instead of the feeds array and feed object, which only the rarer paths build
 * (on demand, from `feeds`).
 */
class PreparedRow implements PreparedInputs {
  constructor(
    readonly row: TypedArray,
    private readonly template: RowTemplate,
  ) {}

  get feeds(): Feed[] {
    const { name, type, dims } = this.template;
    return [{ name, type, dims, data: this.row, owned: false }];
  }

  get groupKey(): string {
    return this.template.groupKey;
  }
}

/** The data of one item's feed `index`, without building the feeds of a fast-path row. */
function rowData(item: PreparedInputs, index: number): Feed['data'] {
  return item instanceof PreparedRow ? item.row : (item.feeds[index] as Feed).data;
}

/**
 * Validates a call's inputs. A model with one input also takes the bare value (an array, typed
 * array or scalar) instead of `{ [name]: value }`. `grouped`: compute the batch group key (only
 * needed when some trailing dimension is symbolic). For many calls, {@link inputPreparer} does
 * the per-model work once.
 */
export function prepareInputs(specs: readonly TensorSpec[], input: unknown, batched: boolean, grouped = true): PreparedInputs {
  return inputPreparer(specs, batched, grouped)(input);
}

function prepareGeneral(specs: readonly TensorSpec[], input: unknown, batched: boolean, grouped: boolean): PreparedInputs {
  let record: Record<string, unknown>;
  const single = specs.length === 1 ? (specs[0] as TensorSpec) : undefined;
  if (single && (Array.isArray(input) || ArrayBuffer.isView(input) || (typeof input !== 'object' && input !== undefined))) {
    record = { [single.name]: input };
  } else if (typeof input === 'object' && input !== null && !Array.isArray(input) && !ArrayBuffer.isView(input)) {
    record = input as Record<string, unknown>;
  } else {
    const names = specs.map((s) => s.name).join(', ');
    throw new BallastError('INVALID_INPUT', `expected an object keyed by input name (${names}), received ${describe(input)}`, {
      details: { expected: specs.map((s) => s.name), received: describe(input) },
    });
  }
  // Unknown names first (cheap counting, no allocation; the slow path finds which one).
  let given = 0;
  for (const spec of specs) if (Object.hasOwn(record, spec.name)) given++;
  let keys = 0;
  for (const key in record) if (Object.hasOwn(record, key)) keys++;
  if (keys > given) {
    const key = Object.keys(record).find((k) => !specs.some((spec) => spec.name === k)) as string;
    const names = specs.map((spec) => spec.name).join(', ');
    throw new BallastError('INVALID_INPUT', `unknown input "${key}"; the model takes ${names}`, {
      details: { input: key, expected: specs.map((spec) => spec.name) },
    });
  }
  const feeds: Feed[] = [];
  let groupKey = '';
  for (const spec of specs) {
    const feed = prepareValue(spec, Object.hasOwn(record, spec.name) ? record[spec.name] : undefined, batched);
    feeds.push(feed);
    // Only symbolic trailing dims can differ between calls; fixed ones are equal by validation.
    if (grouped && feed.dims.length > 0) groupKey += `${feed.dims.join('x')};`;
  }
  return { feeds, groupKey };
}

/**
 * One input of a batch before any buffer exists: its stacked dims (`[rows, ...row dims]`), its
 * element count, and `write(target)`, which copies every row's values into `target` (an array of
 * the input's runtime type and `length`, wherever the backend keeps the batch: a fresh array on
 * the calling thread, a worker's shared slot). The rows are copied once, there.
 */
export interface BatchInput {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: number[];
  readonly length: number;
  write(target: TypedArray | string[]): void;
}

/** The inputs of a batch of validated rows (all of one group, so their shapes match). */
export function batchInputs(items: readonly PreparedInputs[]): BatchInput[] {
  const first = items[0] as PreparedInputs;
  const n = items.length;
  return first.feeds.map((feed, index) => new RowsInput(feed, index, items, n));
}

/** A batch input over the rows of `items` (a class, not a closure per batch and input). */
class RowsInput implements BatchInput {
  readonly name: string;
  readonly type: TensorType;
  readonly dims: number[];
  readonly length: number;
  private readonly size: number;

  constructor(
    feed: Feed,
    private readonly index: number,
    private readonly items: readonly PreparedInputs[],
    n: number,
  ) {
    this.name = feed.name;
    this.type = feed.type;
    this.dims = [n, ...feed.dims];
    this.size = feed.data.length;
    this.length = this.size * n;
  }

  write(target: TypedArray | string[]): void {
    writeRows(this.items, this.index, this.size, target);
  }
}

function writeRows(items: readonly PreparedInputs[], index: number, size: number, target: TypedArray | string[]): void {
  const n = items.length;
  if (Array.isArray(target)) {
    let k = 0;
    for (const item of items) for (const s of rowData(item, index) as string[]) target[k++] = s;
    return;
  }
  if (size <= 64) {
    // Short rows: an element loop costs less than a set() call per row (set() measured about a
    // third more per row in a profile of bench/onnx.ts, 16 floats a row, Node 20).
    const out = target as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = rowData(items[i] as PreparedInputs, index) as Float32Array;
      const offset = i * size;
      for (let j = 0; j < size; j++) out[offset + j] = row[j] as number;
    }
  } else {
    for (let i = 0; i < n; i++) (target as Float32Array).set(rowData(items[i] as PreparedInputs, index) as Float32Array, i * size);
  }
}

/**
 * A batch input written into an array of its own: `spare` when it is one of the right type and
 * length (an array a finished run no longer reads), else a fresh one.
 */
export function materialize(input: BatchInput, spare?: TypedArray): Feed {
  const data =
    spare !== undefined && spare.length === input.length && spare.constructor === ARRAY_TYPES[input.type as keyof typeof ARRAY_TYPES]
      ? spare
      : input.type === 'string'
        ? new Array<string>(input.length)
        : new ARRAY_TYPES[input.type](input.length);
  input.write(data);
  return { name: input.name, type: input.type, dims: input.dims, data };
}

/** A feed as one example: the same data with a batch dimension of 1 in front. */
export function singleFeeds(item: PreparedInputs): Feed[] {
  return item.feeds.map((feed) => ({ ...feed, dims: [1, ...feed.dims] }));
}

/** Runtime output data → the TensorValue data Ballast returns (float16 decoded to Float32Array). */
function outputData(type: TensorType, data: Feed['data'] | readonly boolean[]): TensorValue['data'] {
  if (type === 'float16' && data instanceof Uint16Array) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = fromHalf(data[i] as number);
    return out;
  }
  // Node 24 has Float16Array, and onnxruntime returns float16 outputs in one: widen to float32.
  if (type === 'float16' && ArrayBuffer.isView(data) && !(data instanceof Float32Array))
    return Float32Array.from(data as ArrayLike<number>);
  if (type === 'bool' && data instanceof Uint8Array) return Array.from(data, (v) => v !== 0);
  return data as TensorValue['data'];
}

/** Splits batch outputs into per-example outputs (the batch dimension removed). */
export function splitOutputs(outputs: readonly Feed[], n: number): OnnxOutputs[] {
  // A plain loop, not Array.from with a callback: this runs once per row of every batch.
  const results = new Array<OnnxOutputs>(n);
  for (let i = 0; i < n; i++) results[i] = {};
  for (const output of outputs) {
    if (output.dims[0] !== n) {
      // An output without the batch dimension (a constant, a summary): every example gets all of it.
      const whole: TensorValue = { type: output.type, dims: output.dims, data: outputData(output.type, output.data) };
      for (const result of results) result[output.name] = whole;
      continue;
    }
    // One dims array for all rows of the batch (results are not mutated by Ballast).
    const dims = output.dims.slice(1);
    const size = n === 0 ? 0 : output.data.length / n;
    const { name, type, data } = output;
    if (Array.isArray(data)) {
      for (let i = 0; i < n; i++) {
        (results[i] as OnnxOutputs)[name] = { type, dims, data: data.slice(i * size, (i + 1) * size) };
      }
    } else if (type === 'float16' || type === 'bool') {
      for (let i = 0; i < n; i++) {
        (results[i] as OnnxOutputs)[name] = { type, dims, data: outputData(type, data.subarray(i * size, (i + 1) * size) as Feed['data']) };
      }
    } else {
      // Views, not copies: the batch's output buffer is fresh per run and owned by no one else.
      // Every other type is returned as the runtime gave it, so no conversion call per row.
      // Each view is made with the output's own constructor, read once: subarray() looks the
      // constructor up again for every row (its species): 36-40 ns a row against 22-24 ns in a
      // microbenchmark of this function on 64 rows (Node 20); bench/_onnx-call-cost.ts shows it
      // in the whole call.
      const typed = data as Exclude<Feed['data'], string[]>;
      const View = typed.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TensorValue['data'];
      const { buffer, byteOffset, BYTES_PER_ELEMENT } = typed;
      const rowBytes = size * BYTES_PER_ELEMENT;
      for (let i = 0; i < n; i++) {
        (results[i] as OnnxOutputs)[name] = { type, dims, data: new View(buffer, byteOffset + i * rowBytes, size) };
      }
    }
  }
  return results;
}

/** Whole-tensor outputs (models whose first dimension is fixed). */
export function wholeOutputs(outputs: readonly Feed[]): OnnxOutputs {
  const result: OnnxOutputs = {};
  for (const output of outputs) result[output.name] = { type: output.type, dims: output.dims, data: outputData(output.type, output.data) };
  return result;
}

/** Specs from onnxruntime's metadata; non-tensor values are refused (sequences and maps are not supported). */
export function specsFrom(
  metadata: readonly { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] }[],
  kind: 'input' | 'output',
): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor || m.type === undefined || !(m.type in ARRAY_TYPES || m.type === 'string')) {
      throw new BallastError('CONFIG', `${kind} "${m.name}" is not a supported tensor (type ${m.type ?? 'non-tensor'})`);
    }
    return { name: m.name, type: m.type as TensorType, dims: [...(m.shape ?? [])] };
  });
}
