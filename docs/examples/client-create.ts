// docs/examples/client-create.ts
import { createClient, staleCache } from '@ballast/client';
import { defineModel } from '@ballast/core';

// An upstream that fails every third call.
let calls = 0;
const upstream = defineModel({
  name: 'scorer',
  infer: async (features: number[]) => {
    calls++;
    if (calls % 3 === 0) throw new Error('upstream hiccup');
    return { score: features.reduce((a, b) => a + b, 0) };
  },
});

const client = createClient({
  model: upstream,
  timeoutMs: 200, // one budget per call: queueing, attempts, backoff and fallbacks
  retry: { maxAttempts: 3, baseDelayMs: 5, shouldRetry: (error) => error instanceof Error },
  breaker: { consecutiveFailures: 5, openMs: 1_000 },
  bulkhead: { maxConcurrent: 8, maxQueue: 16 },
  cache: { max: 1_000, ttlMs: 60_000 },
  fallback: [staleCache(), { value: { score: 0 } }],
});

for (const features of [
  [1, 2],
  [3, 4],
  [1, 2],
  [5, 6],
]) {
  console.log(`${JSON.stringify(features)} -> ${JSON.stringify(await client.infer(features))}`);
}
const stats = client.stats();
console.log(`calls ${stats.calls}, upstream calls ${calls}, cache hits ${stats.cache?.hits}, retries ${stats.retry?.retries}`);
console.log(`breaker: ${client.breaker?.state()}`);
await client.close();
