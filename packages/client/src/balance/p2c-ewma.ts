import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/**
 * Power of two choices over peak-EWMA load (as in Finagle), with memory: each call compares a
 * random endpoint with the previous call's winner and goes to the one with the lower load
 * (`loadAt`: the expected latency from the peak-EWMA latency and the calls in flight, scaled by
 * slow start; not by weight, as latency already shows capacity). Comparing two keeps the choice
 * O(1) and avoids the herd that "always the least loaded" causes; the peak EWMA moves traffic
 * off an endpoint the moment it slows down.
 *
 * Why the memory (Mitzenmacher, Prabhakar and Shah, "Load balancing with memory", 2002): with
 * two random draws an endpoint takes part in only 2/n of the comparisons, so it can never get
 * more than 2/n of the traffic, however fast it is. In a small set of unequal endpoints (one
 * fast server among slower ones) that caps the fast one and overloads the slow ones. Keeping
 * the last winner as one of the two removes the cap; the random draw keeps probing the rest.
 *
 * Readings change only with answers, so an endpoint that lost every comparison (a slow one, or
 * one that stalled once) would never be tried again: when either of the two is due for a probe
 * (`probeDue`: idle and unheard of for the balancer's `probeIntervalMs`) it takes the call.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [a, b, c], strategy: p2cEwma() });
 */
export function p2cEwma(): BalanceStrategy {
  let last: BalanceCandidate | undefined;
  let lastIndex = -1;
  return {
    name: 'p2c-ewma',
    choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate {
      const n = candidates.length;
      if (n === 1) return candidates[0] as BalanceCandidate;
      const i = Math.floor(random() * n);
      let j: number;
      // The remembered winner, while it is still a candidate at the same place (the set is rebuilt
      // on every change, so a moved or missing one is simply replaced by a second draw).
      if (lastIndex >= 0 && lastIndex < n && candidates[lastIndex] === last && lastIndex !== i) {
        j = lastIndex;
      } else {
        j = Math.floor(random() * (n - 1));
        if (j >= i) j++;
      }
      const a = candidates[i] as BalanceCandidate;
      // An idle endpoint whose reading is stale gets this call as a probe (at most one per
      // `probeIntervalMs`); the remembered winner stays, so the next call compares against it.
      if (a.probeDue(now)) return a;
      const b = candidates[j] as BalanceCandidate;
      if (b.probeDue(now)) return b;
      const winner = b.loadAt(now) < a.loadAt(now) ? j : i;
      last = candidates[winner];
      lastIndex = winner;
      return last as BalanceCandidate;
    },
  };
}
