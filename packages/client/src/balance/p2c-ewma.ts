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
 * Why two remembered (the paper's policies with m = 2 memory slots): with the winner alone, the
 * winner keeps every call until a random draw happens to land on an endpoint that is now less
 * loaded. When most of the set is slow, most draws land on slow endpoints and lose, so the
 * winner queues several calls past the point where the runner-up would have answered sooner.
 * Remembering the runner-up too compares the two best on every call, for one more load read;
 * on the bench's set (one fast endpoint, one half as fast, three slow) it cut P2C's p99 from
 * about 36 to 32 ms on a virtual clock (bench/balance-virtual-clock.ts).
 *
 * Readings change only with answers, so an endpoint that lost every comparison (a slow one, or
 * one that stalled once) would never be tried again: when the random draw is due for a probe
 * (`probeDue`: idle and unheard of for the probe interval, `probeIntervalMs` doubled for each
 * probe in a row that left the endpoint losing, up to `probeMaxIntervalMs`) it takes the call.
 *
 * @example
 * const model = balance({ name: 'm', endpoints: [a, b, c], strategy: p2cEwma() });
 */
export function p2cEwma(): BalanceStrategy {
  // The winner and the runner-up of the last comparison, with their places in the set.
  let first: BalanceCandidate | undefined;
  let firstIndex = -1;
  let second: BalanceCandidate | undefined;
  let secondIndex = -1;
  return {
    name: 'p2c-ewma',
    choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate {
      const n = candidates.length;
      if (n === 1) return candidates[0] as BalanceCandidate;
      const i = Math.floor(random() * n);
      const drawn = candidates[i] as BalanceCandidate;
      // An idle endpoint whose reading is stale gets this call as a probe (at most one per
      // probe interval); the remembered ones stay, so the next call compares against them.
      if (drawn.probeDue(now)) return drawn;
      // The remembered ones, while they are still candidates at the same place (the set is
      // rebuilt on every change, so a moved or missing one is dropped, or replaced by a second
      // draw when none is left).
      let j = firstIndex >= 0 && firstIndex < n && candidates[firstIndex] === first && firstIndex !== i ? firstIndex : -1;
      let k =
        secondIndex >= 0 && secondIndex < n && candidates[secondIndex] === second && secondIndex !== i && secondIndex !== j
          ? secondIndex
          : -1;
      if (j < 0) {
        j = k;
        k = -1;
      }
      if (j < 0) {
        j = Math.floor(random() * (n - 1));
        if (j >= i) j++;
        if ((candidates[j] as BalanceCandidate).probeDue(now)) return candidates[j] as BalanceCandidate;
      }
      // Order the two (or three) by load: the lowest takes the call, the next is remembered.
      let best = i;
      let bestLoad = drawn.loadAt(now);
      let next = j;
      let nextLoad = (candidates[j] as BalanceCandidate).loadAt(now);
      if (nextLoad < bestLoad) {
        [best, next] = [next, best];
        [bestLoad, nextLoad] = [nextLoad, bestLoad];
      }
      if (k >= 0) {
        const load = (candidates[k] as BalanceCandidate).loadAt(now);
        if (load < bestLoad) {
          next = best;
          best = k;
        } else if (load < nextLoad) {
          next = k;
        }
      }
      first = candidates[best];
      firstIndex = best;
      second = candidates[next];
      secondIndex = next;
      return first as BalanceCandidate;
    },
  };
}
