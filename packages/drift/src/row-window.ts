import type { WindowOptions } from './monitor-types.js';

/**
 * A monitor's window: which ring slot each row takes (the columns hold the values), when a count
 * or time window closes, and, for sliding time windows, which rows fell out. Tumbling windows
 * start afresh after each evaluation; sliding ones keep their rows.
 */
export class RowWindow {
  /** Rows the ring holds at most. */
  readonly capacity: number;
  readonly #size: number | undefined;
  readonly #slide: number | undefined;
  readonly #durationMs: number | undefined;
  readonly #slideMs: number | undefined;
  readonly #times: Float64Array;
  /** Ring index of the oldest row. */
  start = 0;
  /** Rows in the window. */
  length = 0;
  #sinceEvaluation = 0;
  #lastEvaluationAt: number | undefined;

  /** Allocates the ring's clock, from window options already parsed by DriftMonitor's schema. */
  constructor(window: WindowOptions = {}) {
    const durationMs = window.durationMs;
    const size = window.size ?? (durationMs === undefined ? 500 : undefined);
    this.#size = size;
    this.#slide = window.slide;
    this.#durationMs = durationMs;
    this.#slideMs = window.slideMs;
    this.capacity = Math.floor(window.maxRows ?? size ?? 10000);
    this.#times = new Float64Array(this.capacity);
  }

  /** Whether the window starts afresh after each evaluation. */
  get tumbling(): boolean {
    return this.#durationMs !== undefined ? this.#slideMs === undefined : this.#slide === undefined;
  }

  /** Empties the window. */
  clear(): void {
    this.start = 0;
    this.length = 0;
    this.#sinceEvaluation = 0;
  }

  /**
   * Whether a time window elapsed before a row arriving at `now`: then the rows older than the
   * window are dropped (sliding time windows) and the caller evaluates what is left (when enough),
   * then calls {@link RowWindow.closed}.
   */
  elapsedBefore(now: number): boolean {
    if (this.#durationMs === undefined) return false;
    if (this.#lastEvaluationAt === undefined) {
      this.#lastEvaluationAt = now;
      return false;
    }
    const step = this.#slideMs ?? this.#durationMs;
    if (now - this.#lastEvaluationAt < step) return false;
    // drop rows older than the window
    const oldest = now - this.#durationMs;
    while (this.length > 0 && (this.#times[this.start] as number) < oldest && this.#slideMs !== undefined) {
      this.start = (this.start + 1) % this.capacity;
      this.length--;
    }
    this.#lastEvaluationAt = now;
    return true;
  }

  /** After an evaluation (or a skipped one) that closed the window: tumbling windows start afresh. */
  closed(): void {
    if (this.tumbling) this.clear();
  }

  /** The ring slot of a row arriving at `now`: the next free one, or the oldest row's when full. */
  slot(now: number): number {
    let slot: number;
    if (this.length < this.capacity) {
      slot = (this.start + this.length) % this.capacity;
      this.length++;
    } else {
      // full: overwrite the oldest row (bounded memory whatever the stream length)
      slot = this.start;
      this.start = (this.start + 1) % this.capacity;
    }
    this.#times[slot] = now;
    this.#sinceEvaluation++;
    return slot;
  }

  /** Whether a count window is due after a row was added: then the caller evaluates and calls {@link RowWindow.evaluated}. */
  get countReached(): boolean {
    if (this.#size === undefined) return false;
    return !(this.length < this.#size || this.#sinceEvaluation < (this.#slide ?? this.#size));
  }

  /** After a count window's evaluation at `now`. */
  evaluated(now: number): void {
    this.#sinceEvaluation = 0;
    if (this.#durationMs !== undefined) this.#lastEvaluationAt = now;
    if (this.tumbling) this.clear();
  }
}
