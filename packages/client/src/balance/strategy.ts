/**
 * What a strategy sees of an endpoint: its configuration and live load. Read-only; the balancer
 * updates it as calls start and settle.
 */
export interface BalanceCandidate {
  /** Stable endpoint id (a URL, a host name). */
  readonly id: string;
  /** Relative capacity (default 1), for strategies that share by it (`weighted`); P2C does not use it. */
  readonly weight: number;
  /** Price of one call on this endpoint, in any unit (default 0). */
  readonly cost: number;
  /** Calls in flight on the endpoint now. */
  readonly outstanding: number;
  /**
   * The peak-EWMA latency, ms: jumps to a slower answer at once and decays towards faster ones as
   * answers come. It changes only with answers: an idle endpoint keeps its last reading until a
   * call (such as a probe, see `probeDue`) refreshes it. `undefined` before the first answer.
   */
  latencyAt(now: number): number | undefined;
  /** The slow-start factor at `now`, in (0, 1]: 1 once the endpoint has fully ramped up. */
  slowStartAt(now: number): number;
  /**
   * Expected latency of one more call here at `now`, ms: the peak-EWMA latency, × the queue factor
   * once all of the endpoint's slots are busy (time per call in flight × (outstanding + 1) ÷ the
   * endpoint's unqueued latency, that is (outstanding + 1) ÷ slots), divided by the slow-start
   * factor (not by `weight`). One without answers yet is 0 while idle (so it is tried) and a large
   * penalty per call in flight.
   */
  loadAt(now: number): number;
  /**
   * Whether the endpoint should get one call to refresh its reading: it has answered before, is
   * idle, and has had no call and no answer for the probe interval (the balancer's
   * `probeIntervalMs`, doubled for each probe in a row after which it won no call, up to
   * `probeMaxIntervalMs`). Sending it a call resets the wait, so this is true at most once per
   * interval for an idle endpoint.
   * Strategies that choose by latency take such an endpoint when they meet it, so one that was
   * slow once is not shunned for ever.
   */
  probeDue(now: number): boolean;
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
