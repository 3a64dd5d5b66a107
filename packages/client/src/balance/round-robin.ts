import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/**
 * Each endpoint in turn, ignoring latency and load. An endpoint in slow start is skipped with
 * probability 1 − its slow-start factor, so a newcomer still ramps up.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [a, b, c], strategy: roundRobin() });
 */
export function roundRobin(): BalanceStrategy {
  let position = 0;
  return {
    name: 'round-robin',
    choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate {
      const n = candidates.length;
      for (let tries = 0; tries < n; tries++) {
        position = (position + 1) % n;
        const candidate = candidates[position] as BalanceCandidate;
        const factor = candidate.slowStartAt(now);
        if (factor >= 1 || random() < factor) return candidate;
      }
      return candidates[position % n] as BalanceCandidate;
    },
  };
}
