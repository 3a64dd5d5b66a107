/**
 * @packageDocumentation
 * Resilient inference client: retries, circuit breakers, deadlines, bulkheads, rate limits,
 * hedging, fallbacks, result cache and remote HTTP models.
 */

// The token bucket lives in @ballast/core beside the Limiter contract; re-exported for existing imports.
export type { Limiter, LimiterCallOptions, TakeResult, TokenBucketOptions } from '@ballast/core';
export { TokenBucketLimiter } from '@ballast/core';
export type {
  BalanceDiscovery,
  BalancedModel,
  BalanceEndpoint,
  BalanceEndpointStats,
  BalanceOptions,
  BalanceRetryOptions,
  BalanceStats,
  BalanceStrategyOption,
  DiscoveredEndpoint,
  OutlierOptions,
} from './balance/balance.js';
export { balance } from './balance/balance.js';
export type { CostAwareOptions } from './balance/cost-aware.js';
export { costAware } from './balance/cost-aware.js';
export { p2cEwma } from './balance/p2c-ewma.js';
export { randomChoice } from './balance/random-choice.js';
export { roundRobin } from './balance/round-robin.js';
export type { BalanceCandidate, BalanceStrategy } from './balance/strategy.js';
export { weighted } from './balance/weighted.js';
export type { BreakerMiddleware, BreakerOptions, BreakerStats } from './breaker.js';
export { circuitBreaker } from './breaker.js';
export type { BreakerStateStore, BreakerStateTarget } from './breaker-state.js';
export type { BulkheadMiddleware, BulkheadOptions, BulkheadStats } from './bulkhead.js';
export { bulkhead } from './bulkhead.js';
export type { CacheEntry, CacheOptions, CacheStats, CacheStore, LruCacheStoreOptions, ResultCacheMiddleware } from './cache.js';
export { bypassCache, estimateBytes, lruCacheStore, resultCache } from './cache.js';
export type { CacheEncoding } from './cache-codec.js';
export { decodeCacheValue, encodeCacheValue } from './cache-codec.js';
export { cacheKeyOf, canonicalKey } from './cache-key.js';
export type { ChaosLatency, ChaosMiddleware, ChaosOptions, ChaosStats } from './chaos.js';
export { chaos } from './chaos.js';
export type { Client, ClientOptions, ClientStats } from './client.js';
export { createClient } from './client.js';
export type {
  FallbackMiddleware,
  FallbackOptions,
  FallbackSource,
  FallbackStats,
  RuleFallback,
  StaleCacheFallback,
  StaticFallback,
} from './fallback.js';
export { fallback, staleCache } from './fallback.js';
export type { HedgeMiddleware, HedgeOptions, HedgeStats } from './hedge.js';
export { hedge } from './hedge.js';
export type {
  ChatInput,
  ChatMessage,
  CompletionInput,
  EmbeddingInput,
  EmbeddingOutput,
  OpenAIModelOptions,
  RateLimitHeaders,
  TextOutput,
} from './openai-model.js';
export { openaiModel, rateLimitHeaders } from './openai-model.js';
export type { RateLimitMiddleware, RateLimitOptions } from './rate-limit.js';
export { rateLimit } from './rate-limit.js';
export type { RemoteModel, RemoteModelOptions } from './remote-model.js';
export { httpError, parseRetryAfter, remoteModel } from './remote-model.js';
export type { RetryBudgetOptions, RetryMiddleware, RetryOptions, RetryStats } from './retry.js';
export { retry } from './retry.js';
export type { ContinueStream, MergeContinuation } from './stream-continuation.js';
export { CONTINUE_PROMPT, continueChat, mergeText } from './stream-continuation.js';
export type { StreamOptions, TokenLimitOptions } from './stream-policies.js';
export type { TimeoutOptions } from './timeout.js';
export { timeout } from './timeout.js';
export type { V2Inputs, V2InputValue, V2NestedArray, V2Outputs, V2TypedArray } from './v2-codec.js';
export { decodeV2Response, encodeV2Input, encodeV2Request, fromV2Data, v2InferResponseSchema } from './v2-codec.js';
