import { redisCacheStore } from '@ballast/redis';
import { createClient, RESP_TYPES } from 'redis';
import { startRedis } from '../packages/redis/test/redis-server.js';
const server = await startRedis();
const redis = createClient({ url: server.url });
await redis.connect();
const store = redisCacheStore({ client: redis, prefix: 'f:' });
const value = new Uint8Array(1112);
await store.set('scorer@1:x', { value, storedAt: Date.now(), expiresAt: Date.now() + 1e7 }, 1e7);
const untimed = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).withCommandOptions({ timeout: 0 });
const opts = { timeoutMs: 5000 };
const loop = async (call: () => Promise<unknown>, n: number, callers: number) => {
  let left = n; const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, async () => { while (left-- > 0) await call(); }));
  return ((performance.now() - t0) * 1000) / n;
};
for (const callers of [1, 16]) for (let r = 0; r < 3; r++) {
  const s = await loop(() => store.get('scorer@1:x', opts) as Promise<unknown>, 30000, callers);
  const b = await loop(() => untimed.get('f:r:scorer@1:x'), 30000, callers);
  console.log(callers, 'store.get', s.toFixed(1), 'bare', b.toFixed(1));
}
await store.close(); redis.destroy(); await server.stop();
