import { type CacheStore, createClient, encodeCacheValue } from '@ballast/client';

const output = { type: 'float32', dims: [1, 256], data: new Float32Array(256).map((_, i) => Math.sin(i)) };
const bytes = encodeCacheValue(output, 'bytes');
const entry = { value: bytes, storedAt: Date.now(), expiresAt: Date.now() + 3_600_000 };
const memory: CacheStore = { encoding: 'bytes', get: async () => entry, set: async () => {}, delete: async () => {} };
const input = new Float32Array(16).fill(0.5);
const a = createClient({
  model: { name: 'scorer', version: '1', infer: async () => output },
  timeoutMs: 5000,
  cache: { store: memory, ttlMs: 3_600_000 },
});
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 300000; i++) await a.infer(input);
  console.log((((performance.now() - t0) * 1000) / 300000).toFixed(2));
}
