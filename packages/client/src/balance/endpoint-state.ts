import type { Model } from '@ballast/core';
import type { BalanceCandidate } from './strategy.js';

// Load of an endpoint that has calls in flight but no answer yet: high, so a newcomer gets one
// probe at a time until it has a latency, but finite, so it still wins against a full endpoint.
const UNKNOWN_LOAD_PENALTY = 1e6;

/** @internal The live state of one endpoint in a balancer. */
export class EndpointState<I = unknown, O = unknown> implements BalanceCandidate {
  outstanding = 0;
  calls = 0;
  failures = 0;
  consecutiveFailures = 0;
  /** Times ejected in the current run of trouble (grows the ejection interval). */
  ejections = 0;
  ejectedUntil = 0;
  restoredAt = Number.NEGATIVE_INFINITY;
  draining = false;
  /** Resolves a pending removal once the last in-flight call settles. */
  drained: (() => void) | undefined;
  /** Outcomes of the last calls (1 = failure) in a ring, for the error ratio. */
  readonly window: Uint8Array;
  windowCount = 0;
  windowFailures = 0;
  private windowNext = 0;
  private ewma = 0;
  /** Valley EWMA of latency ÷ (calls in flight when each call was sent + 1) (see `observe`). */
  private unit = 0;
  /** Valley EWMA of latency: the endpoint's own speed without a queue, where an idle reading settles. */
  private base = 0;
  private sampled = false;
  /** When the last answer was observed. */
  private stamp = 0;
  /** When the last call was sent (set by the balancer as it sends one). */
  sentAt = Number.NEGATIVE_INFINITY;
  private slowStartFrom = Number.NEGATIVE_INFINITY;

  constructor(
    readonly id: string,
    readonly model: Model<I, O>,
    readonly weight: number,
    readonly cost: number,
    private readonly decayMs: number,
    private readonly slowStartMs: number,
    private readonly slowStartMinFactor: number,
    windowSize: number,
    private readonly probeIntervalMs = 1000,
  ) {
    this.window = new Uint8Array(windowSize);
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** Starts (or restarts) the slow-start ramp at `now`. */
  startSlowStart(now: number): void {
    if (this.slowStartMs > 0) this.slowStartFrom = now;
  }

  slowStartAt(now: number): number {
    const elapsed = now - this.slowStartFrom;
    if (elapsed >= this.slowStartMs) return 1;
    return Math.max(this.slowStartMinFactor, elapsed / this.slowStartMs);
  }

  // While the endpoint is idle (no call in flight) its reading decays towards its own speed
  // without a queue (the valley EWMA `base`), not towards 0: a peak left by a queue that has
  // drained fades within a few decay times, but a 200 ms endpoint still reads about 200 ms however
  // long it idles. Decaying towards 0 made every idle endpoint look like the fastest after a few
  // decay times, so a 200 ms endpoint won a comparison several times a second. An endpoint whose
  // speed may have changed while it idled is refreshed by a probe instead (see `probeDue`). While
  // calls are in flight the reading holds: decaying it between answers would send a slow endpoint
  // more calls exactly when it is slowest.
  latencyAt(now: number): number | undefined {
    if (!this.sampled) return undefined;
    return this.outstanding > 0 ? this.ewma : this.idleReading(now);
  }

  private idleReading(now: number): number {
    const idle = now - this.stamp;
    return idle > 0 ? this.base + (this.ewma - this.base) * Math.exp(-idle / this.decayMs) : this.ewma;
  }

  // Not divided by weight: the expected latency of one more call already reflects capacity (a
  // parallel server's time per call in flight is its service time ÷ slots), and dividing by a
  // weight in proportion to capacity counted it twice, so the largest endpoint queued before an
  // idle smaller one was tried. Slow start still scales it, so a newcomer ramps up.
  loadAt(now: number): number {
    let load: number;
    if (this.sampled) {
      load = this.outstanding > 0 ? Math.max(this.unit * (this.outstanding + 1), this.ewma) : this.idleReading(now);
    } else {
      load = this.outstanding * UNKNOWN_LOAD_PENALTY;
    }
    return now - this.slowStartFrom >= this.slowStartMs ? load : load / this.slowStartAt(now);
  }

  /**
   * Whether the endpoint is due for a probe: it has answered before, has no call in flight, and
   * has neither answered nor been sent a call for `probeIntervalMs`. Its reading is then stale
   * (it may have recovered from a slow spell), and one call refreshes it. Sending a call resets
   * the interval, so an idle endpoint gets at most one probe per interval, however much traffic
   * the set takes.
   */
  probeDue(now: number): boolean {
    return this.sampled && this.outstanding === 0 && now - Math.max(this.stamp, this.sentAt) >= this.probeIntervalMs;
  }

  /**
   * Feeds one latency into the peak EWMA (Finagle's): a slower sample replaces the average at
   * once; a faster one is blended in with a weight that grows with the time since the last
   * sample (decay time `decayMs`), so the average follows the endpoint's recent speed in time,
   * not per call.
   *
   * The load (`loadAt`) is the larger of that latency and the time per call in flight × (calls
   * in flight + 1). Finagle multiplies the latency itself by the calls in flight, which counts a
   * queue twice once latency includes it, and charges a model server that runs 8 calls at a time
   * as if it ran one: traffic then drains to slow, idle endpoints. The time per call in flight is
   * latency ÷ (calls in flight when the call was sent + 1), kept as a *valley* EWMA (a lower
   * sample replaces it at once): for a serial server every sample gives its service time, for a
   * parallel one the samples taken at its highest concurrency give service time ÷ slots, the cost
   * one more queued call adds.
   *
   * Queueing is kept out of the peak too: a call that met a queue feeds only the time per call in
   * flight. Otherwise a queue of a moment stayed in the reading (the peak keeps the slowest
   * recent answer) after it had drained, the endpoint lost every comparison, and the other
   * endpoints queued in its place, in turns. Beside the peak, a valley EWMA (`base`) of latency
   * keeps the endpoint's speed without a queue, where an idle reading settles.
   */
  observe(latencyMs: number, now: number, inFlight = 0): void {
    const unit = latencyMs / (inFlight + 1);
    if (!this.sampled) {
      this.sampled = true;
      this.ewma = latencyMs;
      this.base = latencyMs;
      this.unit = unit;
    } else {
      const w = Math.exp(-Math.max(0, now - this.stamp) / this.decayMs);
      // A call that met a queue (its time per call in flight × the calls ahead of it was more
      // than the endpoint's speed without one) says how long the queue took, which the calls in
      // flight already count: it feeds the time per call in flight but not the peak.
      if (this.unit * (inFlight + 1) <= this.base) this.ewma = latencyMs > this.ewma ? latencyMs : this.ewma * w + latencyMs * (1 - w);
      this.base = latencyMs < this.base ? latencyMs : this.base * w + latencyMs * (1 - w);
      this.unit = unit < this.unit ? unit : this.unit * w + unit * (1 - w);
    }
    this.stamp = now;
  }

  /** The raw peak EWMA, ms (`undefined` before the first answer). */
  get ewmaMs(): number | undefined {
    return this.sampled ? this.ewma : undefined;
  }

  /** Records one outcome in the error window; returns the change to the set's totals (+1 call, failures delta). */
  record(failed: boolean): number {
    const size = this.window.length;
    let failureDelta = failed ? 1 : 0;
    if (this.windowCount === size) failureDelta -= this.window[this.windowNext] as number;
    else this.windowCount++;
    this.window[this.windowNext] = failed ? 1 : 0;
    this.windowNext = (this.windowNext + 1) % size;
    this.windowFailures += failureDelta;
    return failureDelta;
  }

  /** Forgets the error window (after a restore the endpoint starts with a clean record). */
  clearWindow(): void {
    this.window.fill(0);
    this.windowCount = 0;
    this.windowFailures = 0;
    this.windowNext = 0;
    this.consecutiveFailures = 0;
  }
}
