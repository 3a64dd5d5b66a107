/** @packageDocumentation Shared state for replicas on Redis: result cache with cross-replica single-flight, rate limits and quotas, API keys, breaker state */

export type { RedisCacheStore, RedisCacheStoreOptions } from './redis-cache-store.js';
export { redisCacheStore } from './redis-cache-store.js';
export type { RedisClient, RedisConnectionOptions, RedisStoreStats } from './redis-connection.js';
