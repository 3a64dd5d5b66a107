/**
 * What a strategy sees of an endpoint: its configuration and live load. Read-only; the balancer
 * updates it as calls start and settle.
 */
export interface BalanceCandidate {
  /** Stable endpoint id (a URL, a host name). */
  readonly id: string;
  /** Relative capacity (default 1). */
  readonly weight: number;
  /** Price of one call on this endpoint, in any unit (default 0). */
  readonly cost: number;
  /** Calls in flight on the endpoint now. */
  readonly outstanding: number;
  /**
   * The peak-EWMA latency at `now`, ms: jumps to a slower answer at once, decays towards faster
   * ones, and decays towards 0 while the endpoint is idle, with no call in flight (so it is probed
   * again). `undefined` before the endpoint's first answer.
   */
  latencyAt(now: number): number | undefined;
  /** The slow-start factor at `now`, in (0, 1]: 1 once the endpoint has fully ramped up. */
  slowStartAt(now: number): number;
  /**
   * Expected latency of one more call here at `now`: the peak-EWMA latency, or the time per call
   * in flight × (outstanding + 1) when that is more, divided by weight × slow-start factor. An
   * idle endpoint's reading decays towards 0; one without answers yet is 0 while idle (it is
   * probed) and a large penalty per call in flight.
   */
  loadAt(now: number): number;
}

/**
 * Picks the endpoint for a call. One instance serves one balancer (strategies may keep state,
 * such as a round-robin position).
 */
export interface BalanceStrategy {
  /** Name used in events and stats. */
  readonly name: string;
  /**
   * Chooses one of `candidates` (never empty: the balancer only asks when one can take the call).
   * `now` is the balancer's clock in ms; `random` returns values in [0, 1).
   */
  choose(candidates: readonly BalanceCandidate[], now: number, random: () => number): BalanceCandidate;
}
