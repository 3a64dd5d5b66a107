/**
 * @packageDocumentation
 * Resilient inference client: retries, circuit breakers, deadlines, bulkheads, rate limits,
 * hedging, fallbacks, result cache and remote HTTP models.
 */

export type { RateLimitMiddleware, RateLimitOptions } from './rate-limit.js';
export { rateLimit } from './rate-limit.js';
export type { TakeResult, TokenBucketOptions } from './token-bucket.js';
export { TokenBucketLimiter } from './token-bucket.js';
