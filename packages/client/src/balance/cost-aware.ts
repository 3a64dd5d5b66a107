import { BallastError } from '@ballast/core';
import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

/** Options of {@link costAware}. */
export interface CostAwareOptions {
  /**
   * The latency objective, ms: an endpoint meets it while its peak-EWMA latency is at most this.
   * An endpoint without answers yet counts as meeting it (it is probed once).
   */
  latencyObjectiveMs: number;
}

/**
 * The cheapest endpoint (lowest `cost`) that meets a latency objective; among equally cheap
 * ones, the least loaded. As the cheap endpoints slow down under load their latency passes the
 * objective and calls spill to the next price; when none meets it, the least loaded endpoint
 * (lowest latency × calls in flight) takes the call. An idle endpoint due for a probe
 * (`probeDue`) takes one call per probe interval (`probeIntervalMs`, growing to
 * `probeMaxIntervalMs` while it stays over the objective), so a cheap endpoint that recovers is
 * found again.
 *
 * @example
 * const model = balance({
 *   name: 'm',
 *   endpoints: [{ id: 'spot', model: spot, cost: 1 }, { id: 'on-demand', model: onDemand, cost: 3 }],
 *   strategy: costAware({ latencyObjectiveMs: 50 }),
 * });
 */
export function costAware(options: CostAwareOptions): BalanceStrategy {
  const objective = options?.latencyObjectiveMs;
  if (typeof objective !== 'number' || !(objective > 0) || !Number.isFinite(objective)) {
    throw new BallastError('CONFIG', `costAware: latencyObjectiveMs must be a finite number > 0, got ${String(objective)}`, {
      details: { path: 'latencyObjectiveMs' },
    });
  }
  return {
    name: 'cost-aware',
    choose(candidates: readonly BalanceCandidate[], now: number): BalanceCandidate {
      let best: BalanceCandidate | undefined;
      let bestLoad = 0;
      let fallback = candidates[0] as BalanceCandidate;
      let fallbackLoad = Number.POSITIVE_INFINITY;
      for (const candidate of candidates) {
        // Readings change only with answers: an endpoint that once missed the objective is tried
        // again by a probe (at most one per probe interval), or it would never come back.
        if (candidate.probeDue(now)) return candidate;
        const load = candidate.loadAt(now);
        if (load < fallbackLoad) {
          fallbackLoad = load;
          fallback = candidate;
        }
        const latency = candidate.latencyAt(now);
        if (latency !== undefined && latency > objective) continue;
        if (best === undefined || candidate.cost < best.cost || (candidate.cost === best.cost && load < bestLoad)) {
          best = candidate;
          bestLoad = load;
        }
      }
      return best ?? fallback;
    },
  };
}
