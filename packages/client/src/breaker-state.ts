import type { InferOptions } from '@ballast/core';

/**
 * What a breaker lets a shared state store do to it: open or close one of its circuits because
 * another replica did.
 */
export interface BreakerStateTarget {
  /** Opens the circuit of `key` for `openMs` (another replica opened it, or the shared failure count reached the threshold). */
  openShared(key: string, openMs: number): void;
  /** Closes the circuit of `key` (another replica's half-open trial succeeded). */
  closeShared(key: string): void;
}

/**
 * The seam through which a breaker shares its state across replicas (`redisBreakerState` of
 * `@ballast/redis`). Without one, every circuit is in-process. The breaker never waits on the store
 * except for a half-open trial lease; every other call is fire-and-forget, so a slow or down store
 * costs a closed breaker nothing and the breaker then behaves as a local one.
 */
export interface BreakerStateStore {
  /** Called once by `circuitBreaker()` with the breaker the store may open and close. */
  bind(target: BreakerStateTarget): void;
  /** A circuit opened here (not by the store): share it for `openMs`. */
  opened(key: string, openMs: number): void;
  /** A closed circuit saw a failure: count it across replicas and open everywhere at `threshold` in total. */
  failed(key: string, threshold: number, openMs: number): void;
  /** A half-open trial succeeded here and the circuit closed: close it everywhere. */
  closed(key: string): void;
  /**
   * May this replica run the half-open trial of `key`? At most one replica holds the lease (for
   * `leaseMs`). Answers `true` when the store cannot tell in the caller's budget (local fallback).
   */
  acquireTrial(key: string, leaseMs: number, options: InferOptions | undefined): boolean | Promise<boolean>;
}
