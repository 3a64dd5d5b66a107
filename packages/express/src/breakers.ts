import { subscribe } from '@ballast/core';

/** @internal The open circuit breakers of the served models (see {@link trackOpenBreakers}). */
export interface OpenBreakers {
  /** Whether a breaker of `model` (any breaker key) is open or isolated now. */
  isOpen(model: string): boolean;
  /** Stops listening to breaker events. */
  stop(): void;
}

/**
 * @internal Follows the `ballast:breaker` events the resilience middleware publish, so readiness
 * can report a model whose breaker is open. A model counts as open while any of its breakers
 * (one per key) is open or isolated. Used by `ballastRouter()` and @ballast/nest.
 */
export function trackOpenBreakers(): OpenBreakers {
  // Open breaker keys by model name; a model with none is not in the map.
  const open = new Map<string, Set<string>>();
  const stop = subscribe('breaker', (event) => {
    const key = event.key ?? '';
    const keys = open.get(event.model) ?? new Set<string>();
    if (event.to === 'open' || event.to === 'isolated') keys.add(key);
    else keys.delete(key);
    if (keys.size === 0) open.delete(event.model);
    else open.set(event.model, keys);
  });
  return { isOpen: (model) => open.has(model), stop };
}
