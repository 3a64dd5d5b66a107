// docs/examples/client-cache-codec.ts
import { type CacheEntry, type CacheStore, decodeCacheValue, encodeCacheValue, resultCache } from '@ballast/client';
import { pipeline } from '@ballast/core';

// What a model returns: a tensor with a Float32Array, 64-bit ids and a BigInt.
const model = {
  name: 'embedder',
  version: '2',
  infer: async (text: string) => ({
    type: 'float32',
    dims: [1, 3],
    data: new Float32Array([text.length, Number.NaN, -0]),
    ids: new BigInt64Array([2n ** 62n]),
    total: 2n ** 70n,
  }),
};

// The codec on its own: text (JSON, typed arrays in base64) or bytes (JSON + raw bytes).
const bytes = encodeCacheValue(await model.infer('hi'), 'bytes');
console.log(`bytes form: ${bytes.byteLength} bytes`, decodeCacheValue(bytes));

// A store that keeps strings (as a file, memcached or a key-value service would) says so with
// `encoding`: the cache encodes before set() and decodes after get().
const strings = new Map<string, string>();
const textStore: CacheStore = {
  encoding: 'text',
  get: (key) => {
    const wire = strings.get(key);
    return wire === undefined ? undefined : (JSON.parse(wire) as CacheEntry);
  },
  set: (key, entry) => {
    strings.set(key, JSON.stringify(entry)); // entry.value is already a string here
  },
  delete: (key) => {
    strings.delete(key);
  },
};

const cached = pipeline(model, resultCache({ store: textStore, ttlMs: 60_000 }));
await cached.infer('hello'); // miss: computed and stored as text
const hit = (await cached.infer('hello')) as { data: Float32Array; ids: BigInt64Array; total: bigint };
console.log('hit:', hit.data, hit.ids, hit.total); // a Float32Array, a BigInt64Array and a bigint again
