// docs/examples/client-fallback-cache.ts
import { bypassCache, cacheKeyOf, fallback, resultCache, staleCache } from '@ballast/client';
import { BallastError, defineModel, pipeline, subscribe } from '@ballast/core';

let up = true;
let upstreamCalls = 0;
const primary = defineModel({
  name: 'price',
  version: '7',
  infer: async (sku: { id: string; region: string }) => {
    upstreamCalls++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (!up) throw new BallastError('MODEL_UNAVAILABLE', 'price service down');
    return { sku: sku.id, price: 42 };
  },
});
const heuristic = defineModel({ name: 'price-heuristic', infer: async (sku: { id: string }) => ({ sku: sku.id, price: 40 }) });

// Keys: model name and version, then the canonical input (object keys sorted, typed arrays by bytes).
console.log(cacheKeyOf(primary, { region: 'eu', id: 'A1' }));

const stopCache = subscribe('cache', (e) => console.log(`cache: ${e.result}`));
const stopFallback = subscribe('fallback', (e) => console.log(`fallback: ${e.source} ${e.served ? 'served' : 'failed'}`));
const cache = resultCache({ max: 10_000, ttlMs: 50, staleIfErrorMs: 0 });
// fallback outside the cache: stale values, then another model, then a static answer.
const model = pipeline(primary, fallback({ chain: [staleCache(cache), heuristic, { value: { sku: '?', price: 0 } }] }), cache);

// Identical calls in flight share one upstream call.
await Promise.all([model.infer({ id: 'A1', region: 'eu' }), model.infer({ region: 'eu', id: 'A1' })]);
console.log(`upstream calls: ${upstreamCalls}`);
await model.infer({ id: 'A1', region: 'eu' }); // hit
await model.infer({ id: 'A1', region: 'eu' }, bypassCache()); // skips the lookup, stores the fresh value

up = false;
await new Promise((resolve) => setTimeout(resolve, 60)); // entries are now stale
console.log(await model.infer({ id: 'A1', region: 'eu' })); // the stale value
console.log(await model.infer({ id: 'B2', region: 'eu' })); // never cached: the heuristic model
stopCache();
stopFallback();
