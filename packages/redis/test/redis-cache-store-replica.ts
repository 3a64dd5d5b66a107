/*
 * One replica of a service, run as its own Node process by redis-cache-store.replicas.test.ts: its
 * own Redis connection (redisCacheStore from REDIS_URL), its own createClient() with the shared
 * cache, and a remote model that calls the HTTP upstream at UPSTREAM_URL. The parent sends calls
 * over IPC (advanced serialization, so typed arrays and BigInts travel as they are).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createClient } from '@ballast/client';
import { type InferOptions, signalOf } from '@ballast/core';
import { redisCacheStore } from '../src/index.js';

const upstream = process.env.UPSTREAM_URL as string;
const store = redisCacheStore({ url: process.env.REDIS_URL as string, prefix: 'replicas:' });

const model = {
  name: 'scorer',
  version: '3',
  async infer(input: { key: string; delayMs?: number }, options?: InferOptions) {
    const response = await fetch(upstream, { method: 'POST', body: JSON.stringify(input), signal: signalOf(options) ?? null });
    if (!response.ok) throw new Error(`upstream answered ${response.status}`);
    const data = new Float32Array(await response.arrayBuffer());
    return { type: 'float32', dims: [2, data.length / 2], data, call: BigInt(response.headers.get('x-call') ?? '0') };
  },
};

const client = createClient({ model, cache: { store, ttlMs: 60_000 } });

type Message =
  | { id: number; op: 'infer'; input: { key: string; delayMs?: number }; timeoutMs: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'lag' };

// How late this process' own timers run (a busy machine): a deadline cannot be kept more exactly.
const lag = monitorEventLoopDelay({ resolution: 5 });
lag.enable();

process.on('message', async (message: Message) => {
  if (message.op === 'lag') {
    process.send?.({ id: message.id, maxMs: lag.max / 1e6 });
    lag.reset();
    return;
  }
  if (message.op === 'stats') {
    process.send?.({ id: message.id, cache: client.stats().cache, store: store.stats(), usable: store.usable });
    return;
  }
  const started = performance.now();
  try {
    const value = await client.infer(message.input, { timeoutMs: message.timeoutMs });
    process.send?.({ id: message.id, ok: true, value, ms: performance.now() - started });
  } catch (error) {
    process.send?.({ id: message.id, ok: false, error: String((error as Error)?.message ?? error), ms: performance.now() - started });
  }
});

process.on('disconnect', () => {
  store.close().finally(() => process.exit(0));
});

// Ready once the store can reach Redis.
const waitReady = setInterval(() => {
  if (store.usable) {
    clearInterval(waitReady);
    process.send?.({ ready: true });
  }
}, 10);
