import { BallastError } from '@ballast/core';

/*
 * The result cache's codec: what a model returns, written to a string or to bytes for a store
 * that serializes (Redis, memcached, a file) and read back equal, typed arrays byte for byte.
 *
 * Why not JSON alone: JSON turns a Float32Array into `{"0":3}`, a BigInt into a throw, NaN and
 * ±Infinity into null and undefined into nothing. Why not v8.serialize(): its format changes
 * between Node versions, and replicas on Node 20 and 24 share one store. Why not a library
 * (superjson, devalue, msgpack): none writes every typed array byte-exact to both text and bytes
 * without base64 in the byte form; the walk below is small.
 *
 * The form is JSON where every value JSON cannot hold is a tagged object `{"$":tag,...}`:
 * - typed arrays `{"$":"Float32Array","b":<base64>}` (text) or `{"$":"Float32Array","o":offset,"n":bytes}`
 *   pointing into the binary tail (bytes); ArrayBuffers the same with tag `ArrayBuffer`;
 * - bigints `{"$":"bigint","v":"<digits>"}`; NaN, Infinity, -Infinity and -0 `{"$":"number","v":"NaN"}`;
 * - undefined `{"$":"undefined"}` (in arrays and objects alike); Dates `{"$":"Date","v":<ISO>}`;
 * - a plain object that itself has a `$` key `{"$":"object","v":{...}}`, so no value is misread.
 * Tensors `{ type, dims, data }` and any nesting of the above need nothing more.
 *
 * The byte form is `BLC1` + uint32 (little-endian) JSON length + the JSON (UTF-8) + zero padding to
 * 8 bytes + the typed arrays' bytes, each starting on an 8-byte boundary. Typed arrays keep the
 * machine's byte order (little-endian on every platform Node ships for).
 */

/** The form a serializing store keeps: `text` (a string) or `bytes` (a Uint8Array). */
export type CacheEncoding = 'text' | 'bytes';

const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;

type TypedArrayName = keyof typeof TYPED_ARRAYS | 'Float16Array';

const MAGIC = 0x31434c42; // 'BLC1' read as a little-endian uint32
const HEADER = 8;
const MAX_DEPTH = 128;

function constructorOf(name: string): (new (buffer: ArrayBuffer) => ArrayBufferView) | undefined {
  if (name in TYPED_ARRAYS)
    return TYPED_ARRAYS[name as keyof typeof TYPED_ARRAYS] as unknown as new (
      buffer: ArrayBuffer,
    ) => ArrayBufferView;
  // Node 24 has Float16Array; on Node 20 its bits come back as the Uint16Array ONNX Runtime uses.
  if (name === 'Float16Array') {
    const float16 = (globalThis as Record<string, unknown>).Float16Array as (new (buffer: ArrayBuffer) => ArrayBufferView) | undefined;
    return float16 ?? Uint16Array;
  }
  return undefined;
}

function unsupported(what: string): BallastError {
  return new BallastError('INVALID_INPUT', `cache codec: cannot encode ${what}`);
}

class Writer {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  constructor(readonly binary: boolean) {}

  bytes(tag: string, view: Uint8Array): Record<string, unknown> {
    if (!this.binary) return { $: tag, b: Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64') };
    const offset = this.length;
    this.chunks.push(view);
    this.length += view.byteLength + ((8 - (view.byteLength % 8)) % 8);
    return { $: tag, o: offset, n: view.byteLength };
  }

  value(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (Number.isFinite(value) && !Object.is(value, -0)) return value;
        return { $: 'number', v: Object.is(value, -0) ? '-0' : String(value) };
      case 'bigint':
        return { $: 'bigint', v: value.toString() };
      case 'undefined':
        return { $: 'undefined' };
      case 'object': {
        if (value === null) return null;
        if (depth > MAX_DEPTH) throw unsupported('a value nested this deeply');
        if (ArrayBuffer.isView(value)) {
          // A Buffer (a Uint8Array subclass) comes back as a plain Uint8Array.
          const name = value instanceof Uint8Array && !(value instanceof Uint8ClampedArray) ? 'Uint8Array' : value.constructor.name;
          if (value instanceof DataView || constructorOf(name) === undefined) throw unsupported(name);
          return this.bytes(name, new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        }
        if (value instanceof ArrayBuffer) return this.bytes('ArrayBuffer', new Uint8Array(value));
        if (Array.isArray(value)) {
          const out = new Array(value.length);
          for (let i = 0; i < value.length; i++) out[i] = this.value(value[i], depth + 1);
          return out;
        }
        if (value instanceof Date) return { $: 'Date', v: value.toISOString() };
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) throw unsupported(proto?.constructor?.name ?? 'this object');
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(value)) {
          const item = this.value((value as Record<string, unknown>)[key], depth + 1);
          // An own `__proto__` key is data: assigning it would set the prototype and drop it.
          if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
          else out[key] = item;
        }
        return '$' in out ? { $: 'object', v: out } : out;
      }
      default:
        throw unsupported(`a ${typeof value}`);
    }
  }
}

function copyOut(name: string, source: Uint8Array): unknown {
  // A fresh, aligned buffer: the decoded value never aliases the store's reply. A zeroed array
  // filled with set() is about half the cost of copying through the typed array constructor.
  const copy = new Uint8Array(source.byteLength);
  copy.set(source);
  if (name === 'ArrayBuffer') return copy.buffer;
  const Constructor = constructorOf(name);
  if (Constructor === undefined) throw corrupt(`unknown typed array ${name}`);
  return new Constructor(copy.buffer);
}

function corrupt(reason: string): BallastError {
  return new BallastError('INTEGRITY', `cache codec: corrupt entry (${reason})`);
}

function revive(value: unknown, tail: Uint8Array | undefined): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], tail);
    return value;
  }
  const record = value as Record<string, unknown>;
  const tag = record.$;
  if (tag === undefined) {
    for (const key of Object.keys(record)) record[key] = revive(record[key], tail);
    return record;
  }
  switch (tag) {
    case 'number':
      return record.v === '-0' ? -0 : Number(record.v);
    case 'bigint':
      return BigInt(record.v as string);
    case 'undefined':
      return undefined;
    case 'Date':
      return new Date(record.v as string);
    case 'object': {
      const inner = record.v as Record<string, unknown>;
      for (const key of Object.keys(inner)) inner[key] = revive(inner[key], tail);
      return inner;
    }
    default: {
      if (typeof record.b === 'string') return copyOut(tag as TypedArrayName, Buffer.from(record.b, 'base64'));
      const offset = record.o as number;
      const length = record.n as number;
      if (tail === undefined || !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || offset + length > tail.byteLength) {
        throw corrupt('typed array outside the entry');
      }
      return copyOut(tag as TypedArrayName, tail.subarray(offset, offset + length));
    }
  }
}

/**
 * Encodes a model's result for a serializing {@link CacheStore}: as a string (`text`, JSON with
 * base64 for binary data) or as bytes (`bytes`, JSON plus the typed arrays' raw bytes). Round-trips
 * every typed array (BigInt64/BigUint64 and Float16 bits included), BigInt, NaN, ±Infinity, -0,
 * undefined, null, Dates, ArrayBuffers, tensors `{ type, dims, data }` and any nesting of arrays
 * and plain objects. Throws `BallastError('INVALID_INPUT')` for what it cannot hold (Maps, class
 * instances, functions, symbols).
 *
 * @example
 * const bytes = encodeCacheValue({ type: 'float32', dims: [2], data: new Float32Array([1, 2]) }, 'bytes');
 * const back = decodeCacheValue(bytes); // data is a Float32Array again
 */
export function encodeCacheValue(value: unknown, encoding: 'text'): string;
export function encodeCacheValue(value: unknown, encoding: 'bytes'): Uint8Array;
export function encodeCacheValue(value: unknown, encoding: CacheEncoding): string | Uint8Array;
export function encodeCacheValue(value: unknown, encoding: CacheEncoding): string | Uint8Array {
  const writer = new Writer(encoding === 'bytes');
  const json = JSON.stringify(writer.value(value, 0));
  if (encoding === 'text') return json;
  const jsonLength = Buffer.byteLength(json);
  const tailStart = HEADER + jsonLength + ((8 - ((HEADER + jsonLength) % 8)) % 8);
  const out = Buffer.alloc(tailStart + writer.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(jsonLength, 4);
  out.write(json, HEADER, 'utf8');
  let at = tailStart;
  for (const chunk of writer.chunks) {
    out.set(chunk, at);
    at += chunk.byteLength + ((8 - (chunk.byteLength % 8)) % 8);
  }
  return out;
}

/**
 * Decodes what {@link encodeCacheValue} wrote (either form). Typed arrays come back as fresh
 * copies. Throws `BallastError('INTEGRITY')` for bytes or text it did not write.
 *
 * @example
 * const value = decodeCacheValue(encodeCacheValue([1n, Number.NaN, new Int8Array([-1])], 'text'));
 */
export function decodeCacheValue(encoded: string | Uint8Array): unknown {
  if (typeof encoded === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(encoded);
    } catch (error) {
      throw new BallastError('INTEGRITY', 'cache codec: corrupt entry (not JSON)', { cause: error });
    }
    return revive(parsed, undefined);
  }
  if (!(encoded instanceof Uint8Array) || encoded.byteLength < HEADER) throw corrupt('too short');
  const buffer = Buffer.isBuffer(encoded) ? encoded : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (buffer.readUInt32LE(0) !== MAGIC) throw corrupt('unknown format');
  const jsonLength = buffer.readUInt32LE(4);
  if (HEADER + jsonLength > buffer.byteLength) throw corrupt('header past the end');
  const tailStart = HEADER + jsonLength + ((8 - ((HEADER + jsonLength) % 8)) % 8);
  const json = buffer.toString('utf8', HEADER, HEADER + jsonLength);
  if (jsonLength > MAX_PLANNED_JSON) return revive(parseJson(json), buffer.subarray(Math.min(tailStart, buffer.byteLength)));
  let plan = plans.get(json);
  if (plan === undefined) {
    plan = planOf(parseJson(json), 0);
    if (plans.size >= MAX_PLANS) plans.clear();
    plans.set(json, plan);
  }
  return plan.build(buffer, tailStart);
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new BallastError('INTEGRITY', 'cache codec: corrupt entry (not JSON)', { cause: error });
  }
}

/*
 * Why plans: entries of one model almost always share their JSON part (a tensor's type and dims,
 * the offsets of its data in the tail), and parsing it again on every hit was about a third of a
 * Redis cache hit's CPU. The JSON part is parsed once into a plan that builds fresh objects (and
 * fresh copies of the typed arrays from each entry's own tail) on every decode, so no two
 * decodes share anything a caller could mutate. At most MAX_PLANS are kept (all dropped when
 * full: outputs whose JSON varies per entry, such as scores, then cost one parse as before).
 */
const MAX_PLANS = 256;
const MAX_PLANNED_JSON = 4096;
const plans = new Map<string, Plan>();

/** Builds a decoded value from one entry: `source` holds it, its binary tail starts at `tailStart`. */
interface Plan {
  build(source: Uint8Array, tailStart: number): unknown;
}

class LiteralPlan implements Plan {
  constructor(readonly value: unknown) {}
  build(): unknown {
    return this.value;
  }
}

class ArrayPlan implements Plan {
  constructor(readonly items: Plan[]) {}
  build(source: Uint8Array, tailStart: number): unknown {
    const out = new Array(this.items.length);
    for (let i = 0; i < out.length; i++) out[i] = (this.items[i] as Plan).build(source, tailStart);
    return out;
  }
}

class ObjectPlan implements Plan {
  // A `__proto__` key (JSON.parse makes it an own property) must not set the prototype.
  private readonly define: boolean;
  constructor(
    readonly keys: string[],
    readonly values: Plan[],
  ) {
    this.define = keys.includes('__proto__');
  }
  build(source: Uint8Array, tailStart: number): unknown {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i] as string;
      const value = (this.values[i] as Plan).build(source, tailStart);
      if (this.define) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    return out;
  }
}

class DatePlan implements Plan {
  constructor(readonly iso: string) {}
  build(): unknown {
    return new Date(this.iso);
  }
}

class BytesPlan implements Plan {
  constructor(
    readonly name: string,
    readonly offset: number,
    readonly length: number,
    // Bytes written inline (base64) rather than in the tail.
    readonly inline?: Uint8Array,
  ) {}
  build(source: Uint8Array, tailStart: number): unknown {
    if (this.inline !== undefined) return copyOut(this.name, this.inline);
    const start = Math.min(tailStart, source.byteLength) + this.offset;
    if (start + this.length > source.byteLength) throw corrupt('typed array outside the entry');
    return copyOut(this.name, new Uint8Array(source.buffer, source.byteOffset + start, this.length));
  }
}

function planOf(value: unknown, depth: number): Plan {
  if (typeof value !== 'object' || value === null) return new LiteralPlan(value);
  if (depth > MAX_DEPTH + 2) throw corrupt('nested too deeply');
  if (Array.isArray(value)) return new ArrayPlan(value.map((item) => planOf(item, depth + 1)));
  const record = value as Record<string, unknown>;
  const tag = record.$;
  if (tag === undefined) {
    const keys = Object.keys(record);
    return new ObjectPlan(
      keys,
      keys.map((key) => planOf(record[key], depth + 1)),
    );
  }
  switch (tag) {
    case 'number':
    case 'bigint':
    case 'undefined':
      return new LiteralPlan(revive(record, undefined));
    case 'Date':
      return new DatePlan(record.v as string);
    case 'object': {
      // A plain object with a `$` key of its own: its keys are taken as they are.
      const inner = record.v as Record<string, unknown>;
      const keys = Object.keys(inner);
      return new ObjectPlan(
        keys,
        keys.map((key) => planOf(inner[key], depth + 1)),
      );
    }
    default: {
      if (typeof record.b === 'string') return new BytesPlan(tag as string, 0, -1, Buffer.from(record.b, 'base64'));
      const offset = record.o as number;
      const length = record.n as number;
      if (typeof tag !== 'string' || !Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
        throw corrupt('typed array outside the entry');
      }
      if (tag !== 'ArrayBuffer' && constructorOf(tag) === undefined) throw corrupt(`unknown typed array ${tag}`);
      return new BytesPlan(tag, offset, length);
    }
  }
}
