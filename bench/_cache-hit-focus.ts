/**
 * A result-cache hit through a Ballast client with redisCacheStore, in a loop, for profiling:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx/esm bench/_cache-hit-focus.ts [calls] [callers]
 * Prints µs per hit and per raw GET of the same bytes with the same node-redis client.
 * Arguments: calls per round (default 100,000), callers (default 1), and `hit` or `raw` to run
 * only that loop (for a profile of one path), or `bare` for the GET without node-redis' timer.
 * Also prints socket writes per call (node-redis writes what one event-loop turn queued in one go). Sum a profile's self time by function from its
 * `nodes` and `samples`/`timeDeltas` to see where a hit's CPU goes.
 */
import net from 'node:net';
import { createClient as createBallastClient } from '@ballast/client';
import { redisCacheStore } from '@ballast/redis';
import { createClient, RESP_TYPES } from 'redis';
import { startRedis } from '../packages/redis/test/redis-server.js';

const calls = Number(process.argv[2] ?? 100_000);
const callers = Number(process.argv[3] ?? 1);
const only = process.argv[4]; // 'hit' | 'raw' | 'bare' | undefined (all three)

// Socket writes per call: node-redis writes every command queued in one turn of the event loop
// in one writev, so a path that reaches its GET in separate turns shows more writes per call.
let socketWrites = 0;
for (const method of ['_writev', '_write'] as const) {
  const original = net.Socket.prototype[method] as (...args: unknown[]) => unknown;
  net.Socket.prototype[method] = function counted(this: net.Socket, ...args: unknown[]) {
    socketWrites++;
    return original.apply(this, args);
  } as never;
}

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
    [key] = await redis.keys('focus:{*}:r');
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

  const writes = { hit: 0, raw: 0, bare: 0 };
  // This process' CPU per call (user + system): what the path costs here, apart from waiting.
  const cpuUs = { hit: 0, raw: 0, bare: 0 };
  const loop = async (call: () => Promise<unknown>, n: number, name?: keyof typeof writes): Promise<number> => {
    let left = n;
    const writesBefore = socketWrites;
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (left-- > 0) await call();
      }),
    );
    const us = ((performance.now() - t0) * 1000) / n;
    if (name !== undefined) writes[name] = (socketWrites - writesBefore) / n;
    const cpu = process.cpuUsage(cpuBefore);
    if (name !== undefined) cpuUs[name] = (cpu.user + cpu.system) / n;
    return us;
  };
  await loop(hit, 5000);
  await loop(raw, 5000);
  await loop(bare, 5000);
  for (let round = 0; round < 3; round++) {
    const hitUs = only === undefined || only === 'hit' ? await loop(hit, calls, 'hit') : Number.NaN;
    const rawUs = only === undefined || only === 'raw' ? await loop(raw, calls, 'raw') : Number.NaN;
    const bareUs = only === undefined || only === 'bare' ? await loop(bare, calls, 'bare') : Number.NaN;
    console.log(
      `callers ${callers}: hit ${hitUs.toFixed(1)} µs/call, raw GET ${rawUs.toFixed(1)} µs/call (ratio ${(rawUs / hitUs).toFixed(2)}x), raw GET without node-redis' timer ${bareUs.toFixed(1)} µs/call (ratio ${(bareUs / hitUs).toFixed(2)}x); socket writes per call: hit ${writes.hit.toFixed(3)}, raw ${writes.raw.toFixed(3)}, bare ${writes.bare.toFixed(3)}; CPU µs per call: hit ${cpuUs.hit.toFixed(1)}, raw ${cpuUs.raw.toFixed(1)}, bare ${cpuUs.bare.toFixed(1)}`,
    );
  }
  const hits = client.stats().cache;
  console.log('cache', hits, 'store', store.stats());
  await store.close();
  await redis.close();
} finally {
  await server.stop();
}
