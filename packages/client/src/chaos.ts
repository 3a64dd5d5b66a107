import {
  BallastError,
  callModel,
  doneError,
  type InferOptions,
  type Middleware,
  type Model,
  parseOptions,
  remainingMs,
  seededRandom,
  signalOf,
} from '@ballast/core';
import { z } from 'zod';
import { sleep } from './call-options.js';
import { wrapModel } from './model-wrap.js';
import { functionOption, msOption, ratioOption } from './options-check.js';

/** Added latency: fixed, uniform in a range, or exponential with a mean (ms). */
export type ChaosLatency =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: 'exponential'; readonly meanMs: number };

/** Options of {@link chaos}. */
export interface ChaosOptions {
  /** Seed of the random source: the same seed injects the same faults in the same order. Default 1. */
  seed?: number;
  /** Share of calls (0..1) that fail with `error()`, after the model has answered (keeping its latency). Default 0. */
  errorRate?: number;
  /** The injected error. Default a retryable `MODEL_UNAVAILABLE` BallastError. */
  error?: () => unknown;
  /** Share of calls (0..1) that hang until their signal aborts (forever without a deadline). Default 0. */
  hangRate?: number;
  /** Share of calls (0..1) that get `latency` added (failing ones included). Default 1 when `latency` is set. */
  latencyRate?: number;
  /** Latency added before the call runs (never past the call's deadline). */
  latency?: ChaosLatency;
}

/** Counters of a chaos policy. */
export interface ChaosStats {
  calls: number;
  errors: number;
  hangs: number;
  delayed: number;
}

/** A {@link chaos} middleware with its counters. */
export interface ChaosMiddleware extends Middleware {
  /** Counters since creation. */
  stats(): ChaosStats;
}

const NO_ERROR = Symbol('no error');

function defaultError(): BallastError {
  return new BallastError('MODEL_UNAVAILABLE', 'chaos: injected failure', { details: { injected: true } });
}

function hang(options: InferOptions | undefined): Promise<never> {
  return new Promise<never>((_, reject) => {
    const signal = signalOf(options);
    if (signal === undefined) return; // no budget and no signal: hangs, as a real stuck upstream would
    if (signal.aborted) {
      reject(doneError(options) ?? signal.reason);
      return;
    }
    signal.addEventListener('abort', () => reject(doneError(options) ?? signal.reason), { once: true });
  });
}

/** @internal The schema of {@link ChaosLatency}: one of three kinds, told apart by `kind`. */
const chaosLatencySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('fixed'), ms: msOption }),
  z
    .strictObject({ kind: z.literal('uniform'), minMs: msOption, maxMs: msOption })
    .refine((latency) => latency.maxMs >= latency.minMs, { message: 'maxMs must be >= minMs', path: ['maxMs'] }),
  z.strictObject({ kind: z.literal('exponential'), meanMs: msOption }),
]);

/** @internal The schema of {@link ChaosOptions}; createClient composes it as its `chaos` section. */
export const chaosOptionsSchema = z.strictObject({
  seed: z.number().int().nonnegative().optional(),
  errorRate: ratioOption.optional(),
  error: functionOption.optional(),
  hangRate: ratioOption.optional(),
  latencyRate: ratioOption.optional(),
  latency: chaosLatencySchema.optional(),
});

/**
 * Injects faults for tests and game days: errors, hangs and latency, drawn from a seeded random
 * source so a run can be replayed. Off unless configured. Place it innermost, where the upstream
 * would fail.
 *
 * @example
 * const model = pipeline(remote, retry(), chaos({ seed: 42, errorRate: 0.3, hangRate: 0.01 }));
 */
export function chaos(options: ChaosOptions = {}): ChaosMiddleware {
  return chaosFromParsed(parseOptions('chaos', chaosOptionsSchema, options) as ChaosOptions);
}

/** @internal {@link chaos} from options already parsed with {@link chaosOptionsSchema} (createClient's section). */
export function chaosFromParsed(options: ChaosOptions): ChaosMiddleware {
  const latency = options.latency;
  const random = seededRandom(options.seed ?? 1);
  const errorRate = options.errorRate ?? 0;
  const hangRate = options.hangRate ?? 0;
  const latencyRate = latency === undefined ? 0 : (options.latencyRate ?? 1);
  const makeError = options.error ?? defaultError;
  const stats: ChaosStats = { calls: 0, errors: 0, hangs: 0, delayed: 0 };

  const draw = (): number => {
    if (latency === undefined) return 0;
    if (latency.kind === 'fixed') return latency.ms;
    if (latency.kind === 'uniform') return latency.minMs + random() * (latency.maxMs - latency.minMs);
    return -latency.meanMs * Math.log(1 - random());
  };

  async function delayed<I, O>(next: Model<I, O>, input: I, callOptions: InferOptions | undefined, ms: number, error: unknown): Promise<O> {
    await sleep(Math.min(ms, remainingMs(callOptions)));
    const done = doneError(callOptions);
    if (done) throw done;
    return error === NO_ERROR ? callModel(next, input, callOptions) : failAfter(next, input, callOptions, error);
  }

  // The upstream does its work and then fails (like a 500 after processing), so injected failures
  // arrive with the model's own latency instead of all ahead of the successes.
  function failAfter<I, O>(next: Model<I, O>, input: I, callOptions: InferOptions | undefined, error: unknown): Promise<O> {
    const fail = (): never => {
      throw error;
    };
    return callModel(next, input, callOptions).then(fail, fail);
  }

  const middleware = function chaosMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    return wrapModel(next, function chaotic(input: I, callOptions?: InferOptions): Promise<O> {
      stats.calls++;
      const r = random();
      if (r < hangRate) {
        stats.hangs++;
        return hang(callOptions);
      }
      let error: unknown = NO_ERROR;
      if (r < hangRate + errorRate) {
        stats.errors++;
        error = makeError();
      }
      if (latencyRate > 0 && random() < latencyRate) {
        stats.delayed++;
        return delayed(next, input, callOptions, draw(), error);
      }
      if (error !== NO_ERROR) return failAfter(next, input, callOptions, error);
      return callModel(next, input, callOptions);
    });
  } as ChaosMiddleware;
  middleware.stats = () => ({ ...stats });
  return middleware;
}
