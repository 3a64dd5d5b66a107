/**
 * The weather service: an Express app serving the weather model over the Open Inference
 * Protocol v2 through the Ballast router, behind an API key. Each call goes to the remote copy of
 * the model through the resilient client (deadline, retry, breaker, cache), falls back to the
 * in-process ONNX model (batching + a worker thread), and feeds the drift monitor.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Client, createClient, remoteModel } from '@ballast/client';
import { defineModel, type InferOptions, type Model, pipeline } from '@ballast/core';
import { DriftMonitor, type DriftResult, driftMiddleware, parseProfile } from '@ballast/drift';
import { type BallastRouter, ballastRouter } from '@ballast/express';
import { type ApiKeys, apiKeys, createGuard, type KeyStore, type LimiterFactory, memoryKeyStore } from '@ballast/guard';
import { type OnnxModel, onnxModel } from '@ballast/onnx';
import { redisCacheStore, redisKeyStore, redisLimiters } from '@ballast/redis';
import express from 'express';
import { createClient as createRedisClient } from 'redis';
import { FEATURES } from './data.js';

/** Where the shipped model artifacts live. */
export const MODEL_DIR = join(import.meta.dirname, '..', 'model');

/** Options of {@link startWeatherService}. */
export interface WeatherServiceOptions {
  /** Base URL of the remote copy of the model (Open Inference Protocol v2). */
  remoteUrl: string;
  /** Rows per drift window (tumbling). Default 120. */
  driftWindow?: number;
  /** Called with every drift window result. */
  onDrift?: (result: DriftResult) => void;
  /** Worker threads for the local ONNX model. Default 1. */
  workers?: number;
  /**
   * The station whose readings the drift monitor watches (from the `x-station` request header).
   * Default 0.
   */
  driftStation?: number;
  /**
   * Shares the result cache, the rate limits and the API keys with other replicas through Redis.
   * Absent: everything stays in this process.
   */
  shared?: {
    /** The Redis URL (`redis://127.0.0.1:6379`). */
    redisUrl: string;
    /** The API keys' HMAC secret: the same on every replica, so a key made on one verifies on all. */
    keySecret: string;
  };
}

/**
 * The `metered` plan's rate limit: a principal whose key carries `attributes.plan = 'metered'` may
 * make this many requests, across all replicas when the limits are shared.
 */
export const METERED_RATE = { ratePerSecond: 40, burst: 40 } as const;

/** A running weather service. */
export interface WeatherService {
  url: string;
  apiKey: string;
  client: Client<unknown, unknown>;
  local: OnnxModel;
  monitor: DriftMonitor;
  router: BallastRouter;
  /** The API keys (in Redis when shared). */
  keys: ApiKeys;
  /** Hands buffered drift samples to the monitor now. */
  flushDrift(): void;
  close(): Promise<void>;
}

type RowInput = { features?: { data?: ArrayLike<number> } };

/** The drift row of a v2 input row: the four features by name. */
export function featureRow(input: unknown): Record<string, number> | undefined {
  const data = (input as RowInput | undefined)?.features?.data;
  if (data === undefined || data.length !== FEATURES.length) return undefined;
  return Object.fromEntries(FEATURES.map((name, i) => [name, Number(data[i])]));
}

/** Starts the service on 127.0.0.1 (a free port). */
export async function startWeatherService(options: WeatherServiceOptions): Promise<WeatherService> {
  const local = await onnxModel({
    path: join(MODEL_DIR, 'weather.onnx'),
    name: 'weather',
    version: '1-local',
    workers: options.workers ?? 1,
    batching: { maxBatchSize: 64, maxDelayMs: 1 },
  });
  const shared = options.shared;
  // The limiters' client: node-redis reconnects by itself, and the limiters decide locally meanwhile.
  const redis =
    shared === undefined
      ? undefined
      : await createRedisClient({ url: shared.redisUrl, socket: { reconnectStrategy: () => 100 } })
          .on('error', () => {})
          .connect();
  const cacheStore = shared === undefined ? undefined : redisCacheStore({ url: shared.redisUrl });
  const keyStore: KeyStore & { close?(): Promise<void> } =
    shared === undefined ? memoryKeyStore() : redisKeyStore({ url: shared.redisUrl });
  const limiters: LimiterFactory | undefined = redis === undefined ? undefined : redisLimiters({ client: redis });
  const remote = remoteModel({ url: options.remoteUrl, protocol: 'open-inference-v2', name: 'weather' });
  const client = createClient({
    model: remote,
    // Each call may take up to 1 s in all; 300 ms of it are kept for the fallback.
    timeoutMs: 1_000,
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 },
    breaker: { consecutiveFailures: 5, failureRatio: 0.5, minThroughput: 20, windowMs: 5_000, openMs: 800, halfOpenTrials: 1 },
    cache: cacheStore === undefined ? { max: 5_000, ttlMs: 60_000 } : { store: cacheStore, ttlMs: 60_000 },
    fallback: { chain: [local], reserveMs: 300 },
  });

  const reference = parseProfile(JSON.parse(readFileSync(join(MODEL_DIR, 'reference-profile.json'), 'utf8')));
  const monitor = new DriftMonitor({
    name: 'weather-inputs',
    reference,
    features: FEATURES,
    window: { size: options.driftWindow ?? 120 },
    correction: 'bonferroni',
    ...(options.onDrift ? { onResult: options.onDrift } : {}),
  });
  const drift = driftMiddleware(monitor, { sampleRate: 1, input: featureRow, batchSize: 16 });
  // Several stations report the same day, and their readings are not independent draws: a KS test
  // fed all of them would see a sample larger than it is and flag drift too often. The monitor
  // watches one station's readings, one per day.
  const watchedStation = options.driftStation ?? 0;
  const watched: Model = pipeline(client as Model, drift);
  const served: Model = defineModel({
    name: 'weather',
    kind: 'client',
    infer: (input: unknown, callOptions?: InferOptions) =>
      (callOptions?.attributes?.['weather.station'] === watchedStation ? watched : (client as Model)).infer(input, callOptions),
  });

  // A demo secret; a real service reads it from its secret store.
  const keys = apiKeys({ secret: shared?.keySecret ?? randomBytes(32), store: keyStore });
  const { key } = await keys.create({ principalId: 'demo-user', roles: ['infer'] });
  const guard = createGuard({
    keys,
    limits: {
      rate: { ratePerSecond: 5_000, burst: 1_000 },
      plans: { metered: { rate: METERED_RATE } },
      ...(limiters === undefined ? {} : { limiters }),
    },
  });
  const router = ballastRouter({
    models: { weather: served },
    guard,
    attributes: (request) => ({ 'weather.station': Number(request.headers['x-station']) || 0 }),
    metadata: {
      weather: {
        platform: 'onnxruntime',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURES.length] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 5] }],
      },
    },
  });
  const app = express();
  app.use(router);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey: key,
    client: client as Client<unknown, unknown>,
    local,
    monitor,
    router,
    keys,
    flushDrift: () => drift.flush(),
    close: async () => {
      server.closeIdleConnections();
      await router.shutdown({ server, drainTimeoutMs: 2_000 });
      await client.close();
      keys.close();
      await keyStore.close?.();
      await cacheStore?.close();
      await redis?.close();
    },
  };
}
