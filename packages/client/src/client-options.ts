import { BallastError } from '@ballast/core';
import { z } from 'zod';
import { optionIssues } from './options-check.js';

/*
 * The zod schema of createClient's options: a user's config crosses a trust boundary (it may come
 * from a file or environment), so it is checked once, up front, and a mistake names its path.
 */

const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'expected a function');
const ms = z.number().finite().nonnegative();
const ratio = z.number().min(0).max(1);
const positiveInt = z.number().int().min(1);

const retrySchema = z.strictObject({
  maxAttempts: positiveInt.optional(),
  baseDelayMs: ms.optional(),
  maxDelayMs: ms.optional(),
  jitter: z.enum(['full', 'none']).optional(),
  shouldRetry: fn.optional(),
  budget: z
    .union([
      z.literal(false),
      z.strictObject({
        ratio: z.number().nonnegative().optional(),
        minPerSecond: z.number().nonnegative().optional(),
        windowMs: z.number().min(1).optional(),
      }),
    ])
    .optional(),
  random: fn.optional(),
});

const breakerSchema = z.strictObject({
  consecutiveFailures: z.number().int().nonnegative().optional(),
  failureRatio: ratio.optional(),
  slowCallRatio: ratio.optional(),
  slowCallMs: ms.optional(),
  windowMs: z.number().min(10).optional(),
  minThroughput: positiveInt.optional(),
  openMs: ms.optional(),
  halfOpenTrials: positiveInt.optional(),
  trialTimeoutMs: ms.optional(),
  isFailure: fn.optional(),
  key: fn.optional(),
  maxKeys: positiveInt.optional(),
  state: z.custom((value) => typeof (value as { bind?: unknown } | null)?.bind === 'function', 'expected a BreakerStateStore').optional(),
});

const bulkheadSchema = z.strictObject({ maxConcurrent: positiveInt.optional(), maxQueue: z.number().int().nonnegative().optional() });

const rateLimitSchema = z.strictObject({
  ratePerSecond: z.number().finite().positive().optional(),
  burst: z.number().min(1).optional(),
  key: fn.optional(),
  cost: fn.optional(),
  maxKeys: positiveInt.optional(),
  limiter: z
    .custom(
      (value) => typeof (value as { take?: unknown } | null)?.take === 'function',
      'expected a Limiter (an object with a take function)',
    )
    .optional(),
});

const hedgeSchema = z.strictObject({
  delayMs: ms.optional(),
  percentile: ratio.optional(),
  minSamples: positiveInt.optional(),
  maxRatio: ratio.optional(),
  minPerSecond: z.number().nonnegative().optional(),
});

const cacheSchema = z.strictObject({
  max: positiveInt.optional(),
  maxBytes: positiveInt.optional(),
  sizeOf: fn.optional(),
  ttlMs: ms.optional(),
  staleWhileRevalidateMs: ms.optional(),
  staleIfErrorMs: ms.optional(),
  key: fn.optional(),
  bypass: fn.optional(),
  store: z
    .custom(
      (value) => typeof (value as { get?: unknown } | null)?.get === 'function' && typeof (value as { set?: unknown }).set === 'function',
      'expected a CacheStore',
    )
    .optional(),
  clock: fn.optional(),
  leaseMs: ms.optional(),
});

const fallbackSource = z.custom(
  (value) =>
    typeof value === 'function' ||
    (typeof value === 'object' && value !== null && ('value' in value || 'infer' in value || 'kind' in value)),
  'expected a model, { value }, a function or staleCache()',
);

const fallbackSchema = z.union([
  z.array(fallbackSource),
  z.strictObject({ chain: z.array(fallbackSource), when: fn.optional(), reserveMs: ms.optional() }),
]);

const latencySchema = z.union([
  z.strictObject({ kind: z.literal('fixed'), ms }),
  z.strictObject({ kind: z.literal('uniform'), minMs: ms, maxMs: ms }),
  z.strictObject({ kind: z.literal('exponential'), meanMs: ms }),
]);

const chaosSchema = z.strictObject({
  seed: z.number().int().nonnegative().optional(),
  errorRate: ratio.optional(),
  error: fn.optional(),
  hangRate: ratio.optional(),
  latencyRate: ratio.optional(),
  latency: latencySchema.optional(),
});

const streamSchema = z.strictObject({
  firstChunkTimeoutMs: ms.optional(),
  idleTimeoutMs: ms.optional(),
  timeoutMs: ms.optional(),
  midStreamFallback: z.boolean().optional(),
  continueWith: fn.optional(),
  mergeOutput: fn.optional(),
});

const tokenLimitSchema = z.strictObject({
  limiter: z.custom((value) => typeof (value as { take?: unknown } | null)?.take === 'function', 'expected a Limiter with a take() method'),
  key: fn.optional(),
});

/** @internal */
export const clientOptionsSchema = z.strictObject({
  model: z.custom((value) => typeof (value as { infer?: unknown } | null)?.infer === 'function', 'expected a Model with an infer() method'),
  timeoutMs: ms.optional(),
  rateLimit: rateLimitSchema.optional(),
  bulkhead: z.union([z.literal(true), bulkheadSchema]).optional(),
  cache: z.union([z.literal(true), cacheSchema]).optional(),
  retry: z.union([z.boolean(), retrySchema]).optional(),
  breaker: z.union([z.boolean(), breakerSchema]).optional(),
  hedge: hedgeSchema.optional(),
  fallback: fallbackSchema.optional(),
  chaos: chaosSchema.optional(),
  stream: streamSchema.optional(),
  tokenLimit: tokenLimitSchema.optional(),
});

/** @internal Validates createClient's options; throws CONFIG naming the first bad path. */
export function checkClientOptions(options: unknown): void {
  const result = clientOptionsSchema.safeParse(options);
  if (result.success) return;
  const issues = optionIssues(clientOptionsSchema, result.error);
  const first = issues[0] ?? { path: '', message: 'invalid options' };
  throw new BallastError('CONFIG', `createClient: ${first.path === '' ? 'options' : first.path}: ${first.message}`, {
    details: { path: first.path, issues, ...(first.suggestion === undefined ? {} : { suggestion: first.suggestion }) },
  });
}
