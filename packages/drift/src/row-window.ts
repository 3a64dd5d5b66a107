import { BallastError } from '@ballast/core';
import { MAX_WINDOW_ROWS, type WindowOptions } from './monitor-types.js';

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

  /** Checks the window options (CONFIG on bad ones) and allocates the ring's clock. */
  constructor(window: WindowOptions = {}) {
    const durationMs = window.durationMs;
    const size = window.size ?? (durationMs === undefined ? 500 : undefined);
    const checkPositive = (label: string, v: number | undefined): void => {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new BallastError('CONFIG', `window.${label} must be a positive number`);
    };
    checkPositive('size', size);
    checkPositive('durationMs', durationMs);
    checkPositive('slide', window.slide);
    checkPositive('slideMs', window.slideMs);
    checkPositive('maxRows', window.maxRows);
    if (size !== undefined && !Number.isInteger(size)) throw new BallastError('CONFIG', 'window.size must be an integer');
    for (const [label, v] of [
      ['size', size],
      ['maxRows', window.maxRows],
    ] as const) {
      if (v !== undefined && v > MAX_WINDOW_ROWS) {
        throw new BallastError('CONFIG', `window.${label} must be at most ${MAX_WINDOW_ROWS} rows, got ${v}`, {
          details: { [label]: v, max: MAX_WINDOW_ROWS },
        });
      }
    }
    this.#size = size;
    this.#slide = window.slide;
    this.#durationMs = durationMs;
    this.#slideMs = window.slideMs;
    this.capacity = Math.floor(window.maxRows ?? size ?? 10000);
    if (size !== undefined && this.capacity < size) throw new BallastError('CONFIG', 'window.maxRows must be >= window.size');
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
