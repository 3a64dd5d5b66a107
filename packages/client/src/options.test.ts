import { type BallastError, defineModel, isBallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { balance } from './balance/balance.js';
import { circuitBreaker } from './breaker.js';
import { bulkhead } from './bulkhead.js';
import { lruCacheStore, resultCache } from './cache.js';
import { chaos } from './chaos.js';
import { createClient } from './client.js';
import { fallback } from './fallback.js';
import { hedge } from './hedge.js';
import { rateLimit } from './rate-limit.js';
import { retry } from './retry.js';
import { timeout } from './timeout.js';

function configError(run: () => unknown): BallastError {
  try {
    run();
  } catch (error) {
    if (isBallastError(error)) return error;
    throw error;
  }
  throw new Error('expected a CONFIG error');
}

const echo = defineModel({ name: 'echo', infer: async (x: number) => x });

describe('options checking', () => {
  it('reports a bad nested option through createClient with its full path', () => {
    const error = configError(() => createClient({ model: echo, retry: { maxAttempts: -1 } }));
    expect(error.code).toBe('CONFIG');
    expect(error.details?.path).toBe('retry.maxAttempts');
    expect(error.message).toMatch(/^createClient: retry\.maxAttempts: /);
    expect(error.details?.issues).toEqual([expect.objectContaining({ path: 'retry.maxAttempts' })]);
  });

  it('reports rules between options through createClient with their full paths', () => {
    const paths = [
      createClient.bind(null, { model: echo, hedge: {} }),
      createClient.bind(null, { model: echo, breaker: { slowCallRatio: 0.5 } }),
      createClient.bind(null, { model: echo, chaos: { latency: { kind: 'uniform', minMs: 10, maxMs: 5 } } }),
      createClient.bind(null, { model: echo, cache: { leaseMs: 0 } }),
      createClient.bind(null, { model: echo, rateLimit: { ratePerSecond: 5, limiter: {} as never } }),
    ].map((run) => configError(run).details?.path);
    expect(paths).toEqual(['hedge.delayMs', 'breaker.slowCallMs', 'chaos.latency.maxMs', 'cache.leaseMs', 'rateLimit.limiter']);
  });

  it('reports a bad value inside a section that may take two forms by its own path', () => {
    // fallback is a chain or { chain, ... }: a bad source in a bare chain is named by its index.
    expect(configError(() => createClient({ model: echo, fallback: [{ value: 1 }, 42 as never] })).details?.path).toBe('fallback.1');
    expect(configError(() => createClient({ model: echo, fallback: { chain: [42 as never] } })).details?.path).toBe('fallback.chain.0');
    expect(configError(() => createClient({ model: echo, bulkhead: { maxQueue: -1 } })).details?.path).toBe('bulkhead.maxQueue');
  });

  it('reports a factory called directly with its own name and path', () => {
    const cases: [() => unknown, string, string][] = [
      [() => retry({ maxAttempts: -1 }), 'retry', 'maxAttempts'],
      [() => retry({ budget: { windowMs: 0 } }), 'retry', 'budget.windowMs'],
      [() => timeout({ timeoutMs: -1 }), 'timeout', 'timeoutMs'],
      [() => fallback({ chain: [], reserveMs: -1 }), 'fallback', 'reserveMs'],
      [() => circuitBreaker({ failureRatio: 2 }), 'circuitBreaker', 'failureRatio'],
      [() => chaos({ latency: { kind: 'uniform', minMs: 10, maxMs: 5 } }), 'chaos', 'latency.maxMs'],
      [() => hedge({ delayMs: 5, minSamples: 0 }), 'hedge', 'minSamples'],
      [() => rateLimit({ ratePerSecond: 5, key: 'user' as never }), 'rateLimit', 'key'],
      [() => resultCache({ ttlMs: -1 }), 'resultCache', 'ttlMs'],
      [() => lruCacheStore({ max: 0 }), 'lruCacheStore', 'max'],
      [() => bulkhead({ maxQueue: -1 }), 'bulkhead', 'maxQueue'],
      [() => balance({ name: 'b', endpoints: [echo], outlier: { maxEjectedShare: 2 } }), 'balance(b)', 'outlier.maxEjectedShare'],
    ];
    for (const [run, owner, path] of cases) {
      const error = configError(run);
      expect(error.code).toBe('CONFIG');
      expect(error.details?.path).toBe(path);
      expect(error.message.startsWith(`${owner}: ${path}: `)).toBe(true);
    }
  });

  it('suggests the known key for a mistyped one, for a factory called directly', () => {
    const error = configError(() => retry({ maxAttempt: 3 } as never));
    expect(error.details).toMatchObject({ path: 'maxAttempt', suggestion: 'maxAttempts' });
    expect(error.message).toBe('retry: maxAttempt: unknown option "maxAttempt"; did you mean "maxAttempts"?');
  });

  it('parses each policy section once per createClient', () => {
    // Each getter counts how often the option is read: parsing reads it once, and the policies
    // are built from the parsed copy, so a second check or a re-parse would read it again.
    const reads: Record<string, number> = {};
    const counted = <T>(section: string, key: string, value: T): Record<string, T> =>
      Object.defineProperty({}, key, {
        enumerable: true,
        get() {
          reads[section] = (reads[section] ?? 0) + 1;
          return value;
        },
      }) as Record<string, T>;
    const client = createClient({
      model: echo,
      rateLimit: counted('rateLimit', 'ratePerSecond', 100),
      cache: counted('cache', 'ttlMs', 1000),
      bulkhead: counted('bulkhead', 'maxConcurrent', 4),
      retry: counted('retry', 'maxAttempts', 2),
      breaker: counted('breaker', 'consecutiveFailures', 3),
      hedge: counted('hedge', 'delayMs', 50),
      fallback: { chain: [{ value: 0 }], ...counted('fallback', 'reserveMs', 5) },
      chaos: counted('chaos', 'errorRate', 0),
    });
    expect(reads).toEqual({ rateLimit: 1, cache: 1, bulkhead: 1, retry: 1, breaker: 1, hedge: 1, fallback: 1, chaos: 1 });
    expect(typeof client.infer).toBe('function');
  });

  it('parses a factory called directly once', () => {
    let reads = 0;
    const options = Object.defineProperty({}, 'maxAttempts', {
      enumerable: true,
      get() {
        reads++;
        return 2;
      },
    });
    retry(options);
    expect(reads).toBe(1);
  });
});
