import { pipeline } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CacheEntry, type CacheStore, resultCache } from './cache.js';
import { decodeCacheValue, encodeCacheValue } from './cache-codec.js';
import { scripted } from './test-models.js';

// Compares with byte-exact typed arrays (NaN payloads included), -0 and NaN by Object.is.
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
  }
  if (a instanceof ArrayBuffer || b instanceof ArrayBuffer) {
    return a instanceof ArrayBuffer && b instanceof ArrayBuffer && Buffer.from(a).equals(Buffer.from(b));
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => key in b && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

// Typed arrays over raw random bytes (so every bit pattern, NaN payloads included), sometimes as
// a view into a larger buffer at an odd offset.
function typedArray<T extends ArrayBufferView>(Constructor: {
  new (buffer: ArrayBuffer, offset?: number, length?: number): T;
  BYTES_PER_ELEMENT: number;
}) {
  return fc.tuple(fc.nat(8), fc.uint8Array({ maxLength: 64 }), fc.boolean()).map(([count, bytes, offset]) => {
    const size = Constructor.BYTES_PER_ELEMENT;
    const buffer = new ArrayBuffer(size * (count + 1) + 8);
    new Uint8Array(buffer).set(bytes.subarray(0, buffer.byteLength));
    return new Constructor(buffer, offset ? size : 0, count);
  });
}

const typedArrays = fc.oneof(
  typedArray(Float32Array),
  typedArray(Float64Array),
  typedArray(Int8Array),
  typedArray(Int16Array),
  typedArray(Int32Array),
  typedArray(Uint8Array),
  typedArray(Uint16Array), // float16 bits as ONNX Runtime hands them out
  typedArray(Uint32Array),
  typedArray(BigInt64Array),
  typedArray(BigUint64Array),
);

const tensorTypes = ['float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float16', 'bool'];

const leaf = fc.oneof(
  fc.string(),
  fc.double(), // NaN, ±Infinity and -0 included
  fc.integer(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  typedArrays,
  fc.record({ type: fc.constantFrom(...tensorTypes), dims: fc.array(fc.nat(4), { maxLength: 3 }), data: typedArrays }),
);

const values = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('$', 'b', 'o', 'type', '__proto__x')), tie('value'), { maxKeys: 4 }),
})).value;

describe('cache codec', () => {
  it('round-trips typed arrays, bigints, tensors, special numbers and nesting through text and bytes', () => {
    fc.assert(
      fc.property(values, (value) => {
        const text = encodeCacheValue(value, 'text');
        expect(typeof text).toBe('string');
        expect(same(decodeCacheValue(text), value)).toBe(true);
        const bytes = encodeCacheValue(value, 'bytes');
        expect(bytes).toBeInstanceOf(Uint8Array);
        expect(same(decodeCacheValue(bytes), value)).toBe(true);
        // Bytes as a store hands them back: a copy at an unaligned offset of a larger buffer.
        const shifted = new Uint8Array(bytes.byteLength + 3);
        shifted.set(bytes, 3);
        expect(same(decodeCacheValue(shifted.subarray(3)), value)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps types that JSON loses', () => {
    const value = {
      logits: { type: 'float32', dims: [1, 2], data: new Float32Array([3, Number.NaN]) },
      ids: new BigInt64Array([-1n, 2n ** 62n]),
      half: new Uint16Array([0x3c00]),
      count: 12345678901234567890n,
      flags: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, undefined, null],
      $: 'a key named $',
      at: new Date(0),
      raw: new Uint8Array([1, 2, 3]).buffer,
    };
    for (const encoding of ['text', 'bytes'] as const) {
      const back = decodeCacheValue(encodeCacheValue(value, encoding)) as typeof value;
      expect(back.logits.data).toBeInstanceOf(Float32Array);
      expect(Array.from(back.logits.data)).toEqual([3, Number.NaN]);
      expect(back.ids).toEqual(new BigInt64Array([-1n, 2n ** 62n]));
      expect(back.half).toEqual(new Uint16Array([0x3c00]));
      expect(back.count).toBe(12345678901234567890n);
      expect(back.flags).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, undefined, null]);
      expect(Object.is(back.flags[2], -0)).toBe(true);
      expect(back.$).toBe('a key named $');
      expect(back.at).toEqual(new Date(0));
      expect(new Uint8Array(back.raw)).toEqual(new Uint8Array([1, 2, 3]));
    }
  });

  it('refuses what it cannot hold and what it did not write, with typed errors', () => {
    expect(() => encodeCacheValue(new Map(), 'text')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeCacheValue({ f: () => 1 }, 'bytes')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeCacheValue(new DataView(new ArrayBuffer(2)), 'bytes')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => decodeCacheValue('{not json')).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    expect(() => decodeCacheValue(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    const bytes = encodeCacheValue(new Float64Array([1, 2]), 'bytes');
    expect(() => decodeCacheValue(bytes.subarray(0, bytes.byteLength - 8))).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
  });

  it('gives every decode of the same bytes its own objects and copies', () => {
    const tensor = (values: number[]) => ({ type: 'float32', dims: [1, values.length], data: new Float32Array(values), at: new Date(5) });
    const bytes = encodeCacheValue(tensor([1, 2]), 'bytes');
    const first = decodeCacheValue(bytes) as ReturnType<typeof tensor>;
    first.dims[1] = 99;
    first.data[0] = 42;
    first.at.setTime(7);
    const second = decodeCacheValue(bytes) as ReturnType<typeof tensor>;
    expect(second.dims).toEqual([1, 2]);
    expect(Array.from(second.data)).toEqual([1, 2]);
    expect(second.at.getTime()).toBe(5);
    expect(second.data.buffer).not.toBe(first.data.buffer);
    // Same JSON part, other data: each entry's own bytes come back.
    expect(Array.from((decodeCacheValue(encodeCacheValue(tensor([3, 4]), 'bytes')) as ReturnType<typeof tensor>).data)).toEqual([3, 4]);
    // A known JSON part over a cut tail is still a corrupt entry.
    expect(() => decodeCacheValue(bytes.subarray(0, bytes.byteLength - 8))).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
    // A plain object with a `$` key and a `__proto__` key keeps both as its own data.
    const odd = JSON.parse('{"$":"x","__proto__":{"polluted":true}}');
    const back = decodeCacheValue(encodeCacheValue(odd, 'bytes')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['$', '__proto__']);
    expect(decodeCacheValue(encodeCacheValue(odd, 'bytes'))).toEqual(back);
  });
});

/** A store that keeps what a shared store keeps: only what survives a trip through its encoding. */
function serializingStore(encoding: 'text' | 'bytes'): CacheStore & { raw: Map<string, string | Uint8Array> } {
  const raw = new Map<string, string | Uint8Array>();
  const toWire = (entry: CacheEntry) =>
    encoding === 'text'
      ? JSON.stringify(entry)
      : new TextEncoder().encode(
          JSON.stringify({ ...entry, value: undefined, bytes: Buffer.from(entry.value as Uint8Array).toString('base64') }),
        );
  const fromWire = (wire: string | Uint8Array): CacheEntry => {
    if (typeof wire === 'string') return JSON.parse(wire);
    const parsed = JSON.parse(new TextDecoder().decode(wire));
    return { value: new Uint8Array(Buffer.from(parsed.bytes, 'base64')), storedAt: parsed.storedAt, expiresAt: parsed.expiresAt };
  };
  return {
    encoding,
    raw,
    get: async (key) => {
      const wire = raw.get(key);
      return wire === undefined ? undefined : fromWire(wire);
    },
    set: async (key, entry) => {
      raw.set(key, toWire(entry));
    },
    delete: async (key) => {
      raw.delete(key);
    },
  };
}

describe('resultCache through a serializing store', () => {
  for (const encoding of ['text', 'bytes'] as const) {
    it(`serves typed arrays, bigints and tensors exact from a ${encoding} store`, async () => {
      const output = {
        type: 'float32',
        dims: [1, 3],
        data: new Float32Array([3, -0, Number.NaN]),
        ids: new BigInt64Array([7n]),
        total: 9007199254740993n,
      };
      const model = scripted('m', () => output);
      const store = serializingStore(encoding);
      const wrapped = pipeline(model, resultCache({ store }));
      await expect(wrapped.infer([1])).resolves.toBe(output); // the miss returns the model's own value
      expect(store.raw.size).toBe(1);
      const hit = (await wrapped.infer([1])) as typeof output;
      expect(model.calls).toBe(1);
      expect(hit).not.toBe(output);
      expect(hit.data).toBeInstanceOf(Float32Array);
      expect(Buffer.from(hit.data.buffer).equals(Buffer.from(output.data.buffer))).toBe(true);
      expect(hit.ids).toEqual(new BigInt64Array([7n]));
      expect(hit.total).toBe(9007199254740993n);
      expect(hit.dims).toEqual([1, 3]);
    });
  }

  it('keeps values as they are in a store without an encoding', async () => {
    const output = new Float32Array([1]);
    const wrapped = pipeline(
      scripted('m', () => output),
      resultCache(),
    );
    await wrapped.infer([1]);
    await expect(wrapped.infer([1])).resolves.toBe(output);
  });

  it('treats a corrupt entry as a miss and counts it', async () => {
    const store = serializingStore('text');
    const model = scripted('m', (call) => call);
    const cache = resultCache({ store });
    const wrapped = pipeline(model, cache);
    await wrapped.infer([1]);
    for (const key of store.raw.keys())
      store.raw.set(key, JSON.stringify({ value: '{broken', storedAt: 0, expiresAt: Date.now() + 60_000 }));
    await expect(wrapped.infer([1])).resolves.toBe(2);
    expect(cache.stats().storeErrors).toBe(1);
  });
});
