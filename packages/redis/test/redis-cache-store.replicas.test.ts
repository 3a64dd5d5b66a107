import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from './redis-server.js';

/*
 * Three replica processes (redis-cache-store-replica.ts), each with its own Redis connection and
 * client, in front of one real HTTP upstream on 127.0.0.1 that counts its calls per key.
 */

interface Reply {
  id: number;
  ok: boolean;
  value?: { data: Float32Array; call: bigint; dims: number[] };
  error?: string;
  ms: number;
}

interface StatsReply {
  cache: { hits: number; misses: number; coalesced: number; storeErrors: number };
  store: { ok: number; timeout: number; error: number; unavailable: number };
  usable: boolean;
}

class Replica {
  private next = 0;
  private readonly pending = new Map<number, (reply: never) => void>();
  readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`replica exited with ${code}`)));
      child.on('message', (message: { id?: number; ready?: boolean }) => {
        if (message.ready) return resolve();
        const settle = this.pending.get(message.id as number);
        this.pending.delete(message.id as number);
        settle?.(message as never);
      });
    });
  }

  private request<T>(message: Record<string, unknown>): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve) => {
      this.pending.set(id, resolve as (reply: never) => void);
      this.child.send({ id, ...message });
    });
  }

  infer(key: string, timeoutMs: number, delayMs = 0): Promise<Reply> {
    return this.request({ op: 'infer', input: { key, delayMs }, timeoutMs });
  }

  stats(): Promise<StatsReply> {
    return this.request({ op: 'stats' });
  }

  /** The largest event-loop delay of the replica since the last call (then resets it), ms. */
  async lag(): Promise<number> {
    return (await this.request<{ maxMs: number }>({ op: 'lag' })).maxMs;
  }
}

function bytes(view: Float32Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

describe.skipIf(!redisAvailable)('redisCacheStore across three replica processes', () => {
  let redis: RedisServer;
  let upstream: Server;
  const calls = new Map<string, number>();
  let total = 0;
  let replicas: Replica[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    upstream = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const { key, delayMs } = JSON.parse(body) as { key: string; delayMs?: number };
        calls.set(key, (calls.get(key) ?? 0) + 1);
        total++;
        setTimeout(() => {
          // Random bits: every float pattern, NaN payloads included, must come back exact.
          response.writeHead(200, { 'content-type': 'application/octet-stream', 'x-call': String(total) });
          response.end(randomBytes(32));
        }, delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as { port: number };
    const script = fileURLToPath(new URL('./redis-cache-store-replica.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    replicas = Array.from(
      { length: 3 },
      () =>
        new Replica(
          spawn(process.execPath, ['--conditions=source', '--import', 'tsx/esm', script], {
            cwd: root,
            env: { ...process.env, REDIS_URL: redis.url, UPSTREAM_URL: `http://127.0.0.1:${port}/infer` },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
            serialization: 'advanced',
          }),
        ),
    );
    await Promise.all(replicas.map((replica) => replica.ready));
    // Warm each process (module loading, the first fetch) so timings below are Redis', not start-up's.
    await Promise.all(replicas.map((replica, i) => replica.infer(`warm-${i}`, 5000)));
  });

  afterAll(async () => {
    await Promise.all(
      replicas.map(
        (replica) =>
          new Promise<void>((resolve) => {
            if (replica.child.exitCode !== null) return resolve();
            replica.child.once('exit', () => resolve());
            replica.child.disconnect();
            setTimeout(() => replica.child.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    await redis?.stop();
  });

  it('serves a typed-array result computed on A byte-exact from B and C', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const first = await a.infer('exact', 2000);
    expect(first.ok).toBe(true);
    const second = await b.infer('exact', 2000);
    const third = await c.infer('exact', 2000);
    expect(calls.get('exact')).toBe(1);
    for (const reply of [second, third]) {
      expect(reply.value?.data).toBeInstanceOf(Float32Array);
      expect(bytes(reply.value?.data as Float32Array).equals(bytes(first.value?.data as Float32Array))).toBe(true);
      expect(reply.value?.call).toBe(first.value?.call);
      expect(reply.value?.dims).toEqual([2, 4]);
    }
  });

  it('sends a burst of 100 identical calls over the three replicas upstream once', async () => {
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => (replicas[i % 3] as Replica).infer('burst', 3000, 150)));
    expect(replies.filter((reply) => !reply.ok)).toEqual([]);
    expect(calls.get('burst')).toBe(1);
    const reference = bytes(replies[0]?.value?.data as Float32Array);
    expect(replies.every((reply) => bytes(reply.value?.data as Float32Array).equals(reference))).toBe(true);
  });

  it('loses no call when Redis is killed under load, bypasses it, and shares again within a second of its return', async () => {
    const failures: Reply[] = [];
    let running = true;
    let sent = 0;
    const load = Promise.all(
      replicas.flatMap((replica, r) =>
        Array.from({ length: 4 }, async (_, lane) => {
          while (running) {
            const reply = await replica.infer(`load-${r}-${lane}-${sent++ % 7}`, 1000, 5);
            if (!reply.ok) failures.push(reply);
          }
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await Promise.all(replicas.map((replica) => replica.stats()));
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.restart();
    const back = performance.now();
    // Shared caching is back when a result computed on one replica is served by another.
    let shared = false;
    for (let attempt = 0; !shared && performance.now() - back < 2000; attempt++) {
      const key = `probe-${attempt}`;
      await (replicas[0] as Replica).infer(key, 1000);
      const other = await (replicas[1 + (attempt % 2)] as Replica).infer(key, 1000);
      shared = other.ok && calls.get(key) === 1;
      if (!shared) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sharedAfterMs = performance.now() - back;
    running = false;
    await load;
    const after = await Promise.all(replicas.map((replica) => replica.stats()));
    expect(sent).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    expect(shared).toBe(true);
    expect(sharedAfterMs).toBeLessThan(1000);
    const storeErrors = after.reduce((sum, s, i) => sum + s.cache.storeErrors - (before[i]?.cache.storeErrors ?? 0), 0);
    const skipped = after.reduce(
      (sum, s, i) => sum + s.store.unavailable + s.store.error - (before[i]?.store.unavailable ?? 0) - (before[i]?.store.error ?? 0),
      0,
    );
    expect(storeErrors).toBeGreaterThan(0);
    expect(skipped).toBeGreaterThan(0);
  });

  it('keeps every call within its deadline while Redis is paused for two seconds', async () => {
    const replies: (Reply & { timeoutMs: number; replica: number })[] = [];
    await Promise.all(replicas.map((replica) => replica.lag()));
    let running = true;
    let sent = 0;
    const load = Promise.all(
      replicas.flatMap((replica, r) =>
        Array.from({ length: 4 }, async (_, lane) => {
          while (running) {
            const timeoutMs = 100 + lane * 100;
            const reply = await replica.infer(`pause-${r}-${lane}-${sent++ % 5}`, timeoutMs, 5);
            replies.push({ ...reply, timeoutMs, replica: r });
          }
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    redis.pause();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      redis.resume();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await load;
    const stats = await Promise.all(replicas.map((replica) => replica.stats()));
    const lags = await Promise.all(replicas.map((replica) => replica.lag()));
    expect(replies.length).toBeGreaterThan(100);
    // Each replica measures its own calls: the deadline holds to within its own event-loop delay
    // (a timer cannot fire while the loop is busy; on a loaded machine that is tens of ms) plus
    // 20 ms of scheduling slack. A hung Redis command would show up as up to 250 ms more.
    const over = replies.filter((reply) => reply.ms > reply.timeoutMs + 20 + (lags[reply.replica] ?? 0));
    expect({ over, lags }).toEqual({ over: [], lags });
    expect(stats.reduce((sum, s) => sum + s.store.timeout, 0)).toBeGreaterThan(0);
    // Calls whose budget outlasts the command timeout (250 ms) lose only the cache.
    expect(replies.filter((reply) => reply.timeoutMs > 300 && !reply.ok)).toEqual([]);
  });
});
