import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/**
 * Power of two choices over peak-EWMA load (as in Finagle): two distinct endpoints are drawn at
 * random and the call goes to the one with the lower latency × (outstanding + 1), scaled by
 * weight and slow start. Two random draws keep the choice O(1) and avoid the herd that "always
 * the least loaded" causes when many callers see the same numbers; the peak EWMA moves traffic
 * off an endpoint the moment it slows down.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [a, b, c], strategy: p2cEwma() });
 */
export function p2cEwma(): BalanceStrategy {
  return {
    name: 'p2c-ewma',
    choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate {
      const n = candidates.length;
      if (n === 1) return candidates[0] as BalanceCandidate;
      const i = Math.floor(random() * n);
      let j = Math.floor(random() * (n - 1));
      if (j >= i) j++;
      const a = candidates[i] as BalanceCandidate;
      const b = candidates[j] as BalanceCandidate;
      return b.loadAt(now) < a.loadAt(now) ? b : a;
    },
  };
}
