import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/**
 * Traffic in proportion to each endpoint's capacity (`weight` × slow-start factor), spread
 * evenly in time: smooth weighted round-robin as in nginx, so weights 5:1:1 give
 * a a b a c a a rather than five a's in a row.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [{ id: 'big', model: big, weight: 4 }, { id: 'small', model: small }], strategy: weighted() });
 */
export function weighted(): BalanceStrategy {
  // Running scores per endpoint; a WeakMap so endpoints that leave the set are forgotten.
  const current = new WeakMap<BalanceCandidate, number>();
  return {
    name: 'weighted',
    choose(candidates: readonly BalanceCandidate[], now: number): BalanceCandidate {
      let total = 0;
      let best: BalanceCandidate | undefined;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const candidate of candidates) {
        const effective = candidate.weight * candidate.slowStartAt(now);
        const score = (current.get(candidate) ?? 0) + effective;
        current.set(candidate, score);
        total += effective;
        if (score > bestScore) {
          bestScore = score;
          best = candidate;
        }
      }
      const chosen = best as BalanceCandidate;
      current.set(chosen, bestScore - total);
      return chosen;
    },
  };
}
