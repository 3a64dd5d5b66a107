/** @packageDocumentation Shared state for replicas on Redis: result cache with cross-replica single-flight, rate limits and quotas, API keys, breaker state */
export type { RedisKeyStore, RedisKeyStoreOptions } from './key-store.js';
export { redisKeyStore } from './key-store.js';
