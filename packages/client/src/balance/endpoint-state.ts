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
  /** Peak EWMA of the latency of answers that met no queue (see `observe`). */
  private ewma = 0;
  /** EWMA of the latency of answers that met no queue: the endpoint's speed, to tell a queue. */
  private speed = 0;
  /** EWMA of latency ÷ (calls in flight when each call was sent + 1), the time per call in flight (see `observe`). */
  private unit = 0;
  private sampled = false;
  /** When the last answer was observed. */
  private stamp = 0;
  /** When the last call was sent (see `sending`). */
  sentAt = Number.NEGATIVE_INFINITY;
  /** Probes in a row that left the reading where it was: the probe interval doubles with each. */
  private probeStreak = 0;
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
    private readonly probeMaxIntervalMs = 16 * probeIntervalMs,
  ) {
    this.window = new Uint8Array(windowSize);
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /**
   * Starts (or restarts) the slow-start ramp at `now`, as the endpoint joins the set or comes
   * back from an ejection. Its reading is from before, so probes start again at `probeIntervalMs`.
   */
  startSlowStart(now: number): void {
    this.probeStreak = 0;
    if (this.slowStartMs > 0) this.slowStartFrom = now;
  }

  slowStartAt(now: number): number {
    const elapsed = now - this.slowStartFrom;
    if (elapsed >= this.slowStartMs) return 1;
    return Math.max(this.slowStartMinFactor, elapsed / this.slowStartMs);
  }

  // The reading changes only with answers (as in Finagle, where the EWMA decays only as new
  // observations come): an idle endpoint keeps the latency it last showed. Letting it decay
  // towards 0 while idle made every idle endpoint look like the fastest after a few decay times,
  // so a 200 ms endpoint won a comparison several times a second. An idle endpoint whose speed
  // may have changed is refreshed by a probe instead (see `probeDue`).
  latencyAt(_now: number): number | undefined {
    return this.sampled ? this.ewma : undefined;
  }

  // Not divided by weight: the expected latency of one more call already shows capacity (a
  // parallel server's time per call in flight is its service time ÷ slots), and dividing by a
  // weight in proportion to capacity counted it twice, so the largest endpoint queued while a
  // smaller idle one could have answered sooner. Slow start still scales it, so a newcomer ramps up.
  //
  // The expected latency is the peak EWMA × the queue factor: the time per call in flight ×
  // (calls in flight + 1) ÷ the endpoint's speed, which is (calls in flight + 1) ÷ slots for a
  // server with that many slots, once past 1 (all slots busy). Both endpoints a comparison weighs
  // are then read the same way, at their recent peak. Taking the larger of the peak and the
  // queue estimate instead (time per call in flight × (calls in flight + 1), a mean) read a
  // queued endpoint at its mean and an unqueued one at its peak: the fastest endpoint queued until
  // its mean wait passed the next one's recent worst answer. On the virtual-clock bench that
  // queue was half of P2C's slowest 1 %; reading both at the peak took the p99 from about 1.74 to
  // 1.58 × the fastest endpoint's own.
  loadAt(now: number): number {
    let load: number;
    if (!this.sampled) load = this.outstanding * UNKNOWN_LOAD_PENALTY;
    else {
      const queue = this.unit * (this.outstanding + 1);
      load = queue > this.speed && this.speed > 0 ? (this.ewma * queue) / this.speed : Math.max(queue, this.ewma);
    }
    return now - this.slowStartFrom >= this.slowStartMs ? load : load / this.slowStartAt(now);
  }

  /**
   * Whether the endpoint is due for a probe: it has answered before, has no call in flight, and
   * has neither answered nor been sent a call for the probe interval. Its reading is then stale
   * (it may have recovered from a slow spell), and one call refreshes it. Sending a call resets
   * the wait, so an idle endpoint gets at most one probe per interval, however much traffic the
   * set takes.
   *
   * The interval is `probeIntervalMs`, doubled for each probe in a row that confirmed the reading
   * (see `sending` and `observe`), up to `probeMaxIntervalMs`. A slow endpoint that stays slow
   * loses every comparison after each probe, so probing it every interval buys nothing, while
   * each probe is a call that waits on the slowest endpoint: on the balance bench the 50 and
   * 200 ms endpoints' one probe a second each were a fifth of the slowest 1 % of calls.
   */
  probeDue(now: number): boolean {
    if (!this.sampled || this.outstanding !== 0) return false;
    const interval = Math.min(this.probeMaxIntervalMs, this.probeIntervalMs * 2 ** Math.min(this.probeStreak, 30));
    return now - Math.max(this.stamp, this.sentAt) >= interval;
  }

  /**
   * Books a call being sent at `now`; returns whether it is a probe (the endpoint was due for
   * one). A call that is not a probe means the endpoint won a comparison on its reading: it is
   * in use, and its probe interval starts again from `probeIntervalMs`.
   */
  sending(now: number): boolean {
    const probe = this.probeDue(now);
    if (probe) this.probeStreak++;
    else this.probeStreak = 0;
    this.sentAt = now;
    return probe;
  }

  /**
   * Feeds one answer's latency in, with the calls that were in flight on the endpoint when the
   * call was sent. The expected latency of one more call (`loadAt`) is the larger of the peak
   * EWMA and the time per call in flight × (calls in flight + 1); each answer feeds the part it
   * tells about.
   *
   * An answer that met no queue tells the endpoint's speed: it goes into the peak EWMA
   * (Finagle's: a slower sample replaces the average at once, a faster one is blended in with a
   * weight that grows with the time since the last answer, decay time `decayMs`, so the average
   * follows the endpoint's speed in time, not per call), and into a plain EWMA of the same.
   *
   * An answer that met a queue tells how long a queued call takes per call ahead of it: its
   * latency ÷ (calls in flight when sent + 1) goes into the time per call in flight (an EWMA in
   * time as well). For a serial server that is its service time; for a parallel one, service
   * time ÷ slots, the cost one more queued call adds. An answer that met no queue but gives a
   * lower time per call in flight (a parallel server at a concurrency not seen before) lowers it
   * too. An answer met a queue when calls were in flight as it was sent and the time per call in
   * flight × (calls in flight when sent + 1) was more than the endpoint's speed.
   *
   * Why the split: Finagle's load is latency × (calls in flight + 1). Once latency includes a
   * queue that counts it twice, and it charges a model server that runs 8 calls at a time as if
   * it ran one. And a queue of a moment kept in the peak stays in the reading after it has
   * drained: the endpoint loses every comparison while the others queue in its place, in turns.
   * The time per call in flight is an average rather than the lowest value seen: the lowest made
   * the fastest endpoint look cheaper than it was, so it queued deeper than it should.
   */
  observe(latencyMs: number, now: number, inFlight = 0, probe = false): void {
    // A probe that answers in less than half the reading shows a change (the ±25 % or so that
    // a model server's latency varies by is not one): probe at the base interval again.
    if (probe && this.sampled && latencyMs < 0.5 * this.ewma) this.probeStreak = 0;
    const unit = latencyMs / (inFlight + 1);
    if (!this.sampled) {
      this.sampled = true;
      this.ewma = latencyMs;
      this.speed = latencyMs;
      this.unit = unit;
    } else {
      const w = Math.exp(-Math.max(0, now - this.stamp) / this.decayMs);
      // A call sent to an idle endpoint met no queue, whatever the estimates say (equal ones can
      // differ in the last bit, which sent an idle answer to the queue estimate, so a probe of an
      // endpoint that had sped up left its reading where it was).
      if (inFlight > 0 && this.unit * (inFlight + 1) > this.speed) {
        this.unit = this.unit * w + unit * (1 - w);
      } else {
        this.ewma = latencyMs > this.ewma ? latencyMs : this.ewma * w + latencyMs * (1 - w);
        this.speed = this.speed * w + latencyMs * (1 - w);
        if (unit < this.unit) this.unit = this.unit * w + unit * (1 - w);
      }
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
