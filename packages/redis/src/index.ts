/** @packageDocumentation Shared state for replicas on Redis: result cache with cross-replica single-flight, rate limits and quotas, API keys, breaker state */

export type { StoreEvent } from '@ballast/core';
export type { RedisKeyStore, RedisKeyStoreOptions } from './key-store.js';
export { redisKeyStore } from './key-store.js';
export type {
  RedisBreakerState,
  RedisBreakerStateOptions,
  RedisBreakerStateStats,
  RedisPubSubClient,
  SharedBreakerTarget,
} from './redis-breaker.js';
export { redisBreakerState } from './redis-breaker.js';
export type { RedisCacheStore, RedisCacheStoreOptions } from './redis-cache-store.js';
export { redisCacheStore } from './redis-cache-store.js';
export type { RedisClient, RedisConnectionOptions, RedisStoreStats } from './redis-connection.js';
export type {
  LimiterFailMode,
  RedisLimitersOptions,
  RedisQuotaLimiterOptions,
  RedisRateLimiterOptions,
  SharedLimiter,
  SharedLimiterOptions,
  SharedLimiterStats,
} from './redis-limiter.js';
export { FIXED_WINDOW_SCRIPT, redisLimiters, redisQuotaLimiter, redisRateLimiter, TOKEN_BUCKET_SCRIPT } from './redis-limiter.js';
export type { LuaScript, RedisCommandClient } from './redis-limiter-command.js';
export { storeChannel } from './redis-limiter-command.js';
