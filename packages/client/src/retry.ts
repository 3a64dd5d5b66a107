import {
  annotate,
  callModel,
  channels,
  doneError,
  type InferOptions,
  isBallastError,
  type Middleware,
  type Model,
  now,
  parseOptions,
  remainingMs,
  toBallastError,
  withAttemptMemo,
} from '@ballast/core';
import { z } from 'zod';
import { sleep } from './call-options.js';
import { LoadBudget } from './load-budget.js';
import { wrapModel } from './model-wrap.js';
import { functionOption, msOption, positiveIntOption } from './options-check.js';

/** The retry budget: extra load from retries capped at a share of recent traffic. */
export interface RetryBudgetOptions {
  /** Retries allowed as a share of calls in the window. Default 0.2 (20 % extra load at most). */
  ratio?: number;
  /** Retries allowed per second regardless of traffic, so a quiet service can still retry. Default 10. */
  minPerSecond?: number;
  /** Window the ratio is measured over, ms. Default 10,000. */
  windowMs?: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  /** Backoff before the second attempt, ms; doubles each attempt. Default 50. */
  baseDelayMs?: number;
  /** Longest backoff, ms. Default 2,000. */
  maxDelayMs?: number;
  /** `full` jitter (a random wait in [0, backoff]) or `none`. Default `full`. */
  jitter?: 'full' | 'none';
  /**
   * Whether to retry after `error` failed attempt `attempt` (1-based). Default: errors whose
   * `retryable` is true. It receives what the model threw as a BallastError (`toBallastError`: an
   * SDK error with HTTP status 429/502/503/504 is retryable, with its `Retry-After`; the original
   * is the `cause`; a value without a status is non-retryable `INTERNAL`).
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** The retry budget, or `false` for none. Default `{ ratio: 0.2, minPerSecond: 10, windowMs: 10_000 }`. */
  budget?: RetryBudgetOptions | false;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
}

/** Counters of a retry policy. */
export interface RetryStats {
  /** Retries scheduled. */
  retries: number;
  /** Retries refused because the budget was spent. */
  budgetExhausted: number;
  /** Retries skipped because the backoff would pass the call's deadline. */
  deadlineSkipped: number;
}

/** A {@link retry} middleware with its counters. */
export interface RetryMiddleware extends Middleware {
  /** Counters since creation. */
  stats(): RetryStats;
}

function defaultShouldRetry(error: unknown): boolean {
  return isBallastError(error) && error.retryable;
}

/*
 * Why not cockatiel's retry(): its backoff sleeps do not know the call's deadline, it has no retry
 * budget and no Retry-After hint, and wrap()+timeout() costs ~15 us a call here. This loop is an
 * async function around the model call: no timer, listener or closure unless an attempt fails.
 */
class RetryPolicy {
  readonly counters: RetryStats = { retries: 0, budgetExhausted: 0, deadlineSkipped: 0 };
  private readonly budget: LoadBudget | undefined;
  private uncounted = 0;

  constructor(
    readonly maxAttempts: number,
    private readonly baseDelayMs: number,
    private readonly maxDelayMs: number,
    private readonly jitter: boolean,
    private readonly shouldRetry: (error: unknown, attempt: number) => boolean,
    budget: RetryBudgetOptions | false,
    private readonly random: () => number,
  ) {
    if (budget !== false) this.budget = new LoadBudget(budget.windowMs ?? 10_000, budget.ratio ?? 0.2, budget.minPerSecond ?? 10);
  }

  /** Counts a call in the budget's window, reading the clock once per 16 calls (a clock read costs more than the rest of the policy). */
  private countCall(): void {
    if ((++this.uncounted & 15) === 0) {
      this.budget?.addCalls(now(), this.uncounted);
      this.uncounted = 0;
    }
  }

  private budgetAllows(at: number): boolean {
    const budget = this.budget;
    if (budget === undefined) return true;
    if (this.uncounted > 0) {
      budget.addCalls(at, this.uncounted);
      this.uncounted = 0;
    }
    return budget.tryTake(at);
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return this.jitter ? this.random() * exp : exp;
  }

  async run<I, O>(next: Model<I, O>, input: I, callOptions: InferOptions | undefined): Promise<O> {
    if (this.budget !== undefined) this.countCall();
    // Every attempt carries the same attempt memo, so a layer below (a balancer) can send the
    // next attempt somewhere other than where the last one failed.
    const options = withAttemptMemo(callOptions);
    let attempt = 1;
    for (;;) {
      try {
        const value = await callModel(next, input, options);
        if (attempt > 1) annotate(options, 'ballast.attempts', attempt);
        return value;
      } catch (thrown) {
        // What the model threw, as a BallastError (an SDK's HTTP 503 is retryable MODEL_UNAVAILABLE
        // with its Retry-After); on the failure path only, so a call that succeeds pays nothing.
        const error = toBallastError(thrown);
        if (attempt >= this.maxAttempts || !this.safeShouldRetry(error, attempt) || doneError(options) !== undefined) {
          annotate(options, 'ballast.attempts', attempt);
          throw error;
        }
        let delayMs = this.backoff(attempt);
        const hint = error.retryAfterMs;
        if (hint !== undefined) {
          if (hint > this.maxDelayMs) {
            // The upstream asked for more than we will wait: retrying sooner would be refused again.
            annotate(options, 'ballast.attempts', attempt);
            throw error;
          }
          if (hint > delayMs) delayMs = hint;
        }
        // Never sleep past the deadline: a retry that cannot start in time is not worth the wait,
        // and answering now leaves the rest of the budget to a fallback.
        if (delayMs >= remainingMs(options)) {
          this.counters.deadlineSkipped++;
          annotate(options, 'ballast.attempts', attempt);
          throw error;
        }
        if (!this.budgetAllows(now())) {
          this.counters.budgetExhausted++;
          annotate(options, 'ballast.attempts', attempt);
          throw error;
        }
        this.counters.retries++;
        if (channels.retry.hasSubscribers) channels.retry.publish({ model: next.name, attempt, delayMs, error });
        if (delayMs > 0) await sleep(delayMs);
        const done = doneError(options);
        if (done) throw done;
        attempt++;
      }
    }
  }

  private safeShouldRetry(error: unknown, attempt: number): boolean {
    try {
      return this.shouldRetry(error, attempt) === true;
    } catch {
      return false;
    }
  }
}

/** @internal The schema of {@link RetryOptions}; createClient composes it as its `retry` section. */
export const retryOptionsSchema = z.strictObject({
  maxAttempts: positiveIntOption.optional(),
  baseDelayMs: msOption.optional(),
  maxDelayMs: msOption.optional(),
  jitter: z.enum(['full', 'none']).optional(),
  shouldRetry: functionOption.optional(),
  budget: z
    .union([
      z.literal(false),
      z.strictObject({
        ratio: z.number().finite().nonnegative().optional(),
        minPerSecond: z.number().finite().nonnegative().optional(),
        windowMs: z.number().finite().min(1).optional(),
      }),
    ])
    .optional(),
  random: functionOption.optional(),
});

/**
 * Retries failed attempts with exponential backoff and full jitter. Only `retryable` Ballast
 * errors are retried unless `shouldRetry` says otherwise; a `retryAfterMs` hint is honoured (up to
 * `maxDelayMs`; a longer hint ends the retries); no backoff sleeps past the call's deadline; a
 * retry budget caps the extra load so a failing upstream gets no retry storm. Publishes
 * `ballast:retry` and annotates `ballast.attempts`.
 *
 * @example
 * const model = pipeline(remote, retry({ maxAttempts: 3, baseDelayMs: 25, maxDelayMs: 500 }));
 * await model.infer(input, { timeoutMs: 1000 });
 */
export function retry(options: RetryOptions = {}): RetryMiddleware {
  return retryFromParsed(parseOptions('retry', retryOptionsSchema, options) as RetryOptions);
}

/** @internal {@link retry} from options already parsed with {@link retryOptionsSchema} (createClient's section). */
export function retryFromParsed(options: RetryOptions): RetryMiddleware {
  const policy = new RetryPolicy(
    options.maxAttempts ?? 3,
    options.baseDelayMs ?? 50,
    options.maxDelayMs ?? 2000,
    (options.jitter ?? 'full') === 'full',
    options.shouldRetry ?? defaultShouldRetry,
    options.budget ?? {},
    options.random ?? Math.random,
  );
  const middleware = function retryMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    if (policy.maxAttempts === 1) return next;
    return wrapModel(next, function retrying(input: I, callOptions?: InferOptions): Promise<O> {
      return policy.run(next, input, callOptions);
    });
  } as RetryMiddleware;
  middleware.stats = () => ({ ...policy.counters });
  return middleware;
}
