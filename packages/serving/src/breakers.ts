import { type Model, subscribe } from '@ballast/core';

/** The open circuit breakers of the served models (see {@link trackOpenBreakers}). */
export interface OpenBreakers {
  /** Whether the model's own (unkeyed) breaker is open or isolated now. */
  isOpen(model: string): boolean;
  /** Stops listening to breaker events. */
  stop(): void;
}

/**
 * Follows the `ballast:breaker` events the resilience middleware publish, so readiness
 * can report a model whose breaker is open. Only a model's unkeyed breaker counts: a keyed breaker
 * (one per tenant or principal) opening says that one key's calls fail, not that the model cannot
 * answer. Used by the serving core's readiness (every adapter).
 *
 * @example
 * const breakers = trackOpenBreakers();
 * breakers.isOpen('fraud'); // false until fraud's breaker opens
 * breakers.stop();
 */
export function trackOpenBreakers(): OpenBreakers {
  const open = new Set<string>();
  const stop = subscribe('breaker', (event) => {
    if (event.key !== undefined && event.key !== '') return;
    if (event.to === 'open' || event.to === 'isolated') open.add(event.model);
    else open.delete(event.model);
  });
  return { isOpen: (model) => open.has(model), stop };
}

/** A model that can report its statistics (a `createClient()` client does). */
interface WithStats {
  stats?: () => { fallback?: unknown } | undefined;
}

/**
 * Whether `model` answers through a fallback chain when its own path fails (a
 * `createClient()` client built with `fallback` reports the chain in `stats().fallback`).
 *
 * @example
 * answersThroughFallback(createClient({ model, fallback: [{ value: 0 }] })); // true
 */
export function answersThroughFallback(model: Model): boolean {
  const stats = (model as Model & WithStats).stats;
  if (typeof stats !== 'function') return false;
  try {
    return stats.call(model)?.fallback !== undefined;
  } catch {
    return false;
  }
}

/**
 * The readiness rule for circuit breakers, shared by every adapter: a model is ready when it can answer. An open (unkeyed) breaker makes it unready
 * only when nothing answers in its place: a client with a fallback chain still answers every call,
 * and marking it unready would take every replica out of the load balancer at once during a
 * shared upstream outage. `followBreakers` ties readiness to the breaker regardless of fallbacks.
 * Keyed breakers never count (see {@link trackOpenBreakers}). Returns the reason the model is not
 * ready, or `undefined`.
 *
 * @example
 * breakerUnreadiness(breakers, 'fraud', fraud, false); // 'circuit breaker open' or undefined
 */
export function breakerUnreadiness(breakers: OpenBreakers, name: string, model: Model, followBreakers: boolean): string | undefined {
  if (!breakers.isOpen(name)) return undefined;
  if (!followBreakers && answersThroughFallback(model)) return undefined;
  return 'circuit breaker open';
}
