import { parseOptions } from '@ballast/core';
import { z } from 'zod';
import { breakerOptionsSchema } from './breaker.js';
import { bulkheadOptionsSchema } from './bulkhead.js';
import { cacheOptionsSchema } from './cache.js';
import { chaosOptionsSchema } from './chaos.js';
import { fallbackOptionsSchema, fallbackSourceSchema } from './fallback.js';
import { hedgeOptionsSchema } from './hedge.js';
import { functionOption, msOption, objectWith } from './options-check.js';
import { rateLimitOptionsSchema } from './rate-limit.js';
import { retryOptionsSchema } from './retry.js';
import { timeoutOptionsSchema } from './timeout.js';

/*
 * The zod schema of createClient's options: a user's config crosses a trust boundary (it may come
 * from a file or environment), so it is checked once, up front, and a mistake names its full path.
 * Each section is the schema its policy's factory declares (retryOptionsSchema in retry.ts, ...),
 * so a section is checked by one schema, once; createClient then builds each policy from the
 * parsed section without checking it again.
 */

const streamSchema = z.strictObject({
  firstChunkTimeoutMs: msOption.optional(),
  idleTimeoutMs: msOption.optional(),
  timeoutMs: msOption.optional(),
  midStreamFallback: z.boolean().optional(),
  continueWith: functionOption.optional(),
  mergeOutput: functionOption.optional(),
});

const tokenLimitSchema = z.strictObject({
  limiter: objectWith(['take'], 'a Limiter with a take() method'),
  key: functionOption.optional(),
});

/** @internal */
export const clientOptionsSchema = z.strictObject({
  model: objectWith(['infer'], 'a Model with an infer() method'),
  timeoutMs: timeoutOptionsSchema.shape.timeoutMs.optional(),
  rateLimit: rateLimitOptionsSchema.optional(),
  bulkhead: z.union([z.literal(true), bulkheadOptionsSchema]).optional(),
  cache: z.union([z.literal(true), cacheOptionsSchema]).optional(),
  retry: z.union([z.boolean(), retryOptionsSchema]).optional(),
  breaker: z.union([z.boolean(), breakerOptionsSchema]).optional(),
  hedge: hedgeOptionsSchema.optional(),
  fallback: z.union([z.array(fallbackSourceSchema), fallbackOptionsSchema]).optional(),
  chaos: chaosOptionsSchema.optional(),
  stream: streamSchema.optional(),
  tokenLimit: tokenLimitSchema.optional(),
});

/**
 * @internal Parses createClient's options (every section once, with its policy's schema) and
 * returns the parsed copy; throws CONFIG naming the first bad path (`retry.maxAttempts`).
 */
export function parseClientOptions(options: unknown): z.infer<typeof clientOptionsSchema> {
  return parseOptions('createClient', clientOptionsSchema, options);
}
