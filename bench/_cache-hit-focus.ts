/**
 * A result-cache hit through a Ballast client with redisCacheStore, in a loop, for profiling:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx/esm bench/_cache-hit-focus.ts [calls] [callers]
 * Prints µs per hit and per raw GET of the same bytes with the same node-redis client.
 * Arguments: calls per round (default 100,000), callers (default 1), and `hit` or `raw` to run
 * only that loop (for a profile of one path). Sum a profile's self time by function from its
 * `nodes` and `samples`/`timeDeltas` to see where a hit's CPU goes.
 */
import { createClient as createBallastClient } from '@ballast/client';
import { redisCacheStore } from '@ballast/redis';
import { createClient, RESP_TYPES } from 'redis';
import { startRedis } from '../packages/redis/test/redis-server.js';

const calls = Number(process.argv[2] ?? 100_000);
const callers = Number(process.argv[3] ?? 1);
const only = process.argv[4]; // 'hit' | 'raw' | undefined (both)

const server = await startRedis();
try {
  const redis = createClient({ url: server.url });
  redis.on('error', () => {});
  await redis.connect();
  const binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const store = redisCacheStore({ client: redis, prefix: 'focus:' });
  const output = { type: 'float32', dims: [1, 256], data: new Float32Array(256).map((_, i) => Math.sin(i)) };
  const client = createBallastClient({
    model: { name: 'scorer', version: '1', infer: async () => output },
    timeoutMs: 5000,
    cache: { store, ttlMs: 3_600_000 },
  });
  const input = new Float32Array(16).fill(0.5);
  await client.infer(input);
  let key: string | undefined;
  for (let i = 0; i < 100 && key === undefined; i++) {
    [key] = await redis.keys('focus:r:*');
    if (key === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (key === undefined) throw new Error('the cache entry never reached Redis');
  const entryKey = key;
  const hit = () => client.infer(input);
  const raw = () => binary.get(entryKey);
  // The same GET without node-redis' per-command timer (AbortSignal.timeout per command): the
  // round trip alone, the tightest reference.
  const untimed = binary.withCommandOptions({ timeout: 0 });
  const bare = () => untimed.get(entryKey);

  const loop = async (call: () => Promise<unknown>, n: number): Promise<number> => {
    let left = n;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (left-- > 0) await call();
      }),
    );
    return ((performance.now() - t0) * 1000) / n;
  };
  await loop(hit, 5000);
  await loop(raw, 5000);
  for (let round = 0; round < 3; round++) {
    const hitUs = only === 'raw' ? Number.NaN : await loop(hit, calls);
    const rawUs = only === 'hit' ? Number.NaN : await loop(raw, calls);
    const bareUs = only === undefined ? await loop(bare, calls) : Number.NaN;
    console.log(
      `callers ${callers}: hit ${hitUs.toFixed(1)} µs/call, raw GET ${rawUs.toFixed(1)} µs/call (ratio ${(rawUs / hitUs).toFixed(2)}x), raw GET without node-redis' timer ${bareUs.toFixed(1)} µs/call (ratio ${(bareUs / hitUs).toFixed(2)}x)`,
    );
  }
  const hits = client.stats().cache;
  console.log('cache', hits, 'store', store.stats());
  await store.close();
  await redis.close();
} finally {
  await server.stop();
}
