import {
  BallastError,
  callModel,
  channels,
  doneError,
  type InferOptions,
  type Middleware,
  type Model,
  now,
  parseOptions,
  signalOf,
} from '@ballast/core';
import { z } from 'zod';
import { wrapModel } from './model-wrap.js';
import { positiveIntOption } from './options-check.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls running at once. Default 10. */
  maxConcurrent?: number;
  /** Calls waiting for a slot; beyond it calls fail at once with `OVERLOADED`. Default 0 (no queue). */
  maxQueue?: number;
}

/** Counters of a bulkhead. */
export interface BulkheadStats {
  /** Calls running now. */
  active: number;
  /** Calls waiting now. */
  queued: number;
  /** Calls rejected with OVERLOADED. */
  rejected: number;
}

/** A {@link bulkhead} middleware with its counters. */
export interface BulkheadMiddleware extends Middleware {
  /** Counters now. */
  stats(): BulkheadStats;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/*
 * Why not cockatiel's bulkhead(): it does not know the call's deadline, so a queued call could wait
 * past it. Here a free slot costs a counter increment; only a call that must queue gets a promise
 * and an abort listener (on the call's deadline/cancel signal), removed when it leaves the queue.
 */
class Bulkhead {
  active = 0;
  rejected = 0;
  readonly queue: Waiter[] = [];
  private meanMs = 10;
  private calls = 0;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  // Pre-bound settle handlers: a call through a free slot allocates no closure.
  private readonly onFulfilled = (value: unknown): unknown => {
    this.release();
    return value;
  };
  private readonly onRejected = (error: unknown): never => {
    this.release();
    throw error;
  };

  run<I, O>(next: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
    // Sample call durations now and then (for the OVERLOADED retry hint) rather than timing every call.
    if ((++this.calls & 15) === 0) return this.timed(next, input, options);
    return callModel(next, input, options).then(this.onFulfilled, this.onRejected) as Promise<O>;
  }

  private async timed<I, O>(next: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
    const start = now();
    try {
      return await callModel(next, input, options);
    } finally {
      this.meanMs = 0.8 * this.meanMs + 0.2 * (now() - start);
      this.release();
    }
  }

  async queued<I, O>(next: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
    await this.wait(options);
    return this.run(next, input, options);
  }

  private wait(options: InferOptions | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal: signalOf(options), onAbort: undefined, settled: false };
      if (waiter.signal) {
        const signal = waiter.signal;
        waiter.onAbort = () => {
          if (waiter.settled) return;
          waiter.settled = true;
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(doneError(options) ?? signal.reason);
        };
        if (signal.aborted) {
          waiter.onAbort();
          return;
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
    });
  }

  private release(): void {
    for (;;) {
      const waiter = this.queue.shift();
      if (waiter === undefined) {
        this.active--;
        return;
      }
      if (waiter.settled) continue;
      waiter.settled = true;
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      // The slot passes straight to the waiter: `active` stays the same.
      waiter.resolve();
      return;
    }
  }

  retryAfterMs(): number {
    return Math.max(1, Math.ceil((this.meanMs * (this.queue.length + 1)) / this.maxConcurrent));
  }
}

/** @internal The schema of {@link BulkheadOptions}; createClient composes it as its `bulkhead` section. */
export const bulkheadOptionsSchema = z.strictObject({
  maxConcurrent: positiveIntOption.optional(),
  maxQueue: z.number().int().nonnegative().optional(),
});

/**
 * Caps concurrent calls. Up to `maxConcurrent` run at once and up to `maxQueue` wait (within
 * their deadline; a waiting call that runs out of budget fails with `TIMEOUT`/`CANCELLED`); beyond
 * that calls fail at once with `OVERLOADED` and a `retryAfterMs` estimate, and a `ballast:rejection`
 * event is published.
 *
 * @example
 * const model = pipeline(remote, bulkhead({ maxConcurrent: 16, maxQueue: 64 }));
 */
export function bulkhead(options: BulkheadOptions = {}): BulkheadMiddleware {
  return bulkheadFromParsed(parseOptions('bulkhead', bulkheadOptionsSchema, options));
}

/** @internal {@link bulkhead} from options already parsed with {@link bulkheadOptionsSchema} (createClient's section). */
export function bulkheadFromParsed(options: BulkheadOptions): BulkheadMiddleware {
  const state = new Bulkhead(options.maxConcurrent ?? 10, options.maxQueue ?? 0);
  const middleware = function bulkheadMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    const name = next.name;
    return wrapModel(next, function bulkheaded(input: I, callOptions?: InferOptions): Promise<O> {
      if (state.active < state.maxConcurrent) {
        state.active++;
        return state.run(next, input, callOptions);
      }
      if (state.queue.length < state.maxQueue) return state.queued(next, input, callOptions);
      state.rejected++;
      if (channels.rejection.hasSubscribers) channels.rejection.publish({ model: name, code: 'OVERLOADED', source: 'bulkhead' });
      return Promise.reject(
        new BallastError('OVERLOADED', `bulkhead of "${name}" is full (${state.maxConcurrent} running, ${state.queue.length} waiting)`, {
          retryAfterMs: state.retryAfterMs(),
          details: { maxConcurrent: state.maxConcurrent, maxQueue: state.maxQueue },
        }),
      );
    });
  } as BulkheadMiddleware;
  middleware.stats = () => ({ active: state.active, queued: state.queue.length, rejected: state.rejected });
  return middleware;
}
