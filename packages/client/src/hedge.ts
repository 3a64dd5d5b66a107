import {
  BallastError,
  callModel,
  channels,
  type InferOptions,
  type Middleware,
  type Model,
  now,
  parseOptions,
  remainingMs,
  signalOf,
  withAttemptMemo,
} from '@ballast/core';
import { z } from 'zod';
import { detachedOptions } from './call-options.js';
import { LoadBudget } from './load-budget.js';
import { wrapModel } from './model-wrap.js';
import { msOption, positiveIntOption, ratioOption } from './options-check.js';

/** Options of {@link hedge}. */
export interface HedgeOptions {
  /** Start the second attempt after this long, ms. Also used until `percentile` has enough samples. */
  delayMs?: number;
  /** Start it at this percentile (0..1, e.g. 0.95) of recently observed latency instead. */
  percentile?: number;
  /** Samples needed before `percentile` is used. Default 20. */
  minSamples?: number;
  /** Most hedges as a share of calls over the last 10 s (bounded extra load). Default 0.1. */
  maxRatio?: number;
  /** Hedges allowed per second whatever the traffic, so a quiet service can hedge too. Default 1. */
  minPerSecond?: number;
}

/** Counters of a hedge policy. */
export interface HedgeStats {
  /** Second attempts started. */
  hedged: number;
  /** Calls the second attempt won. */
  hedgeWins: number;
  /** Hedges skipped because `maxRatio` was reached. */
  budgetExhausted: number;
  /** The delay used now, ms (`undefined` until known). */
  delayMs: number | undefined;
}

/** A {@link hedge} middleware with its counters. */
export interface HedgeMiddleware extends Middleware {
  /** Counters since creation. */
  stats(): HedgeStats;
}

const SAMPLES = 256;

/*
 * Why written here: cockatiel has no hedging. A hedged call needs a timer (the hedge delay) and an
 * abort controller per attempt, so each attempt runs with its own signal, detached from the call's
 * scope, keeping the call's deadline; the loser is aborted through its signal.
 */
class HedgePolicy {
  readonly counters: HedgeStats = { hedged: 0, hedgeWins: 0, budgetExhausted: 0, delayMs: undefined };
  private readonly latencies = new Float64Array(SAMPLES);
  private count = 0;
  private sinceEstimate = 0;
  private estimated = false;

  constructor(
    fixedMs: number | undefined,
    private readonly percentile: number | undefined,
    private readonly minSamples: number,
    private readonly budget: LoadBudget,
  ) {
    this.counters.delayMs = fixedMs;
  }

  observe(ms: number): void {
    this.latencies[this.count % SAMPLES] = ms;
    this.count++;
    if (this.percentile === undefined || this.count < this.minSamples) return;
    if (this.estimated && ++this.sinceEstimate < 16) return;
    this.estimated = true;
    this.sinceEstimate = 0;
    const n = Math.min(this.count, SAMPLES);
    const sorted = this.latencies.slice(0, n).sort();
    this.counters.delayMs = sorted[Math.min(n - 1, Math.floor(this.percentile * n))] as number;
  }

  run<I, O>(next: Model<I, O>, input: I, callOptions: InferOptions | undefined): Promise<O> {
    const at = now();
    this.budget.addCalls(at);
    const delay = this.counters.delayMs;
    if (delay === undefined || delay >= remainingMs(callOptions)) return this.timed(next, input, callOptions, at);
    // Both attempts share one attempt memo: a balancer below sends the hedge to another endpoint
    // than the one the primary still waits on.
    const options = withAttemptMemo(callOptions);
    return new Promise<O>((resolve, reject) => {
      const outer = signalOf(options);
      const primary = new AbortController();
      let second: AbortController | undefined;
      let settled = false;
      let pending = 1;
      const onOuterAbort = () => {
        primary.abort(outer?.reason);
        second?.abort(outer?.reason);
      };
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        outer?.removeEventListener('abort', onOuterAbort);
      };
      const attempt = (controller: AbortController, isHedge: boolean) => {
        const started = now();
        callModel(next, input, detachedOptions(options, controller.signal)).then(
          (value) => {
            if (settled) return;
            finish();
            if (!isHedge) this.observe(now() - started);
            (isHedge ? primary : second)?.abort(new BallastError('CANCELLED', 'the other hedged attempt won'));
            if (isHedge) this.counters.hedgeWins++;
            if (second !== undefined && channels.hedge.hasSubscribers) {
              channels.hedge.publish({ model: next.name, afterMs: delay, winner: isHedge ? 'hedge' : 'primary' });
            }
            resolve(value);
          },
          (error) => {
            if (settled) return;
            // The other attempt may still answer; a primary failing before the delay fails the call.
            if (--pending > 0) return;
            finish();
            reject(error);
          },
        );
      };
      const timer = setTimeout(() => {
        if (settled) return;
        if (!this.budget.tryTake(now())) {
          this.counters.budgetExhausted++;
          return;
        }
        this.counters.hedged++;
        if (channels.hedge.hasSubscribers) channels.hedge.publish({ model: next.name, afterMs: delay });
        second = new AbortController();
        pending++;
        attempt(second, true);
      }, delay);
      outer?.addEventListener('abort', onOuterAbort, { once: true });
      attempt(primary, false);
    });
  }

  private async timed<I, O>(next: Model<I, O>, input: I, options: InferOptions | undefined, start: number): Promise<O> {
    const value = await callModel(next, input, options);
    this.observe(now() - start);
    return value;
  }
}

/** @internal The schema of {@link HedgeOptions}; createClient composes it as its `hedge` section. */
export const hedgeOptionsSchema = z
  .strictObject({
    delayMs: msOption.optional(),
    percentile: ratioOption.optional(),
    minSamples: positiveIntOption.optional(),
    maxRatio: ratioOption.optional(),
    minPerSecond: z.number().finite().nonnegative().optional(),
  })
  .refine((options) => options.delayMs !== undefined || options.percentile !== undefined, {
    message: 'give delayMs, percentile or both',
    path: ['delayMs'],
  });

/**
 * Hedges slow calls: when an attempt has not answered after a delay (fixed, or a percentile of
 * observed latency), a second attempt starts; the first success wins and the other is aborted
 * through its signal. Hedges are capped at `maxRatio` of calls. A primary that fails before the
 * delay fails the call (retrying is `retry()`'s job). Publishes `ballast:hedge`.
 *
 * @example
 * const model = pipeline(remote, hedge({ percentile: 0.95, delayMs: 50, maxRatio: 0.05 }));
 */
export function hedge(options: HedgeOptions = {}): HedgeMiddleware {
  return hedgeFromParsed(parseOptions('hedge', hedgeOptionsSchema, options));
}

/** @internal {@link hedge} from options already parsed with {@link hedgeOptionsSchema} (createClient's section). */
export function hedgeFromParsed(options: HedgeOptions): HedgeMiddleware {
  const policy = new HedgePolicy(
    options.delayMs,
    options.percentile,
    options.minSamples ?? 20,
    new LoadBudget(10_000, options.maxRatio ?? 0.1, options.minPerSecond ?? 1),
  );
  const middleware = function hedgeMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    return wrapModel(next, function hedging(input: I, callOptions?: InferOptions): Promise<O> {
      return policy.run(next, input, callOptions);
    });
  } as HedgeMiddleware;
  middleware.stats = () => ({ ...policy.counters });
  return middleware;
}
