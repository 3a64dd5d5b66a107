import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/**
 * A uniformly random endpoint (skipped with probability 1 − its slow-start factor while it ramps
 * up). Mostly a reference to compare the other strategies against.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [a, b], strategy: randomChoice() });
 */
export function randomChoice(): BalanceStrategy {
  return {
    name: 'random',
    choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate {
      const n = candidates.length;
      let candidate = candidates[Math.floor(random() * n)] as BalanceCandidate;
      for (let tries = 1; tries < n; tries++) {
        const factor = candidate.slowStartAt(now);
        if (factor >= 1 || random() < factor) break;
        candidate = candidates[Math.floor(random() * n)] as BalanceCandidate;
      }
      return candidate;
    },
  };
}
