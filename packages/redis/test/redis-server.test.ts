import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { redisAvailable, startRedis } from './redis-server.js';

describe.skipIf(!redisAvailable)('redis test harness', () => {
  it('starts a real redis-server, survives a kill and restart, and stops', async () => {
    const redis = await startRedis();
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
      await redis.kill();
      await redis.restart();
      // No persistence: the restarted server is empty, and the client reconnects by itself.
      await expect.poll(async () => client.get('k').catch(() => 'error'), { timeout: 3000 }).toBe(null);
    } finally {
      client.destroy();
      await redis.stop();
    }
  });
});
