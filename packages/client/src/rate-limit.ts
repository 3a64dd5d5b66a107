import {
  BallastError,
  callModel,
  channels,
  type InferOptions,
  type Limiter,
  type Middleware,
  type Model,
  parseOptions,
  type TakeResult,
  TokenBucketLimiter,
} from '@ballast/core';
import { z } from 'zod';
import { wrapModel } from './model-wrap.js';
import { functionOption, objectWith, positiveIntOption } from './options-check.js';

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Calls (tokens) per second, per key, > 0. Required unless `limiter` is given. */
  ratePerSecond?: number;
  /** Most calls a key may make at once after being idle. Default `max(1, ratePerSecond)`. */
  burst?: number;
  /**
   * Which bucket a call spends from. Default: the caller's `principal.id`, or one shared bucket
   * (`''`) for anonymous calls. Return the same string for calls that share a limit.
   */
  key?: (input: unknown, options: InferOptions | undefined) => string;
  /** Tokens a call costs (for example by input size). Default 1. */
  cost?: (input: unknown, options: InferOptions | undefined) => number;
  /** Most keys tracked at once (LRU). Default 10,000. */
  maxKeys?: number;
  /**
   * Use this limiter instead of creating an in-process token bucket: one shared across models, or
   * across replicas (`redisRateLimiter` of `@ballast/redis`). Any {@link Limiter}; it receives the
   * call's deadline and signal, and may answer with a promise.
   */
  limiter?: Limiter;
}

function failedTake(error: unknown): BallastError {
  return error instanceof BallastError
    ? error
    : new BallastError('INVALID_INPUT', 'rateLimit: key or cost function failed', { cause: error });
}

function principalKey(_input: unknown, options: InferOptions | undefined): string {
  return options?.principal?.id ?? '';
}

/**
 * A middleware for a {@link rateLimit} policy, with the limiter it uses.
 */
export interface RateLimitMiddleware extends Middleware {
  /** The limiter behind the policy. */
  readonly limiter: Limiter;
  /** Counters since creation. */
  stats(): { rejected: number };
}

/** @internal The schema of {@link RateLimitOptions}; createClient composes it as its `rateLimit` section. */
export const rateLimitOptionsSchema = z.strictObject({
  ratePerSecond: z.number().finite().positive().optional(),
  burst: z.number().finite().min(1).optional(),
  key: functionOption.optional(),
  cost: functionOption.optional(),
  maxKeys: positiveIntOption.optional(),
  limiter: objectWith(['take'], 'a Limiter (an object with a take function)').optional(),
});

/**
 * Limits calls per key with a token bucket. A call over the limit fails at once with
 * `RATE_LIMITED` (retryable) carrying `retryAfterMs`, and a `ballast:rejection` event is published;
 * it never waits in a queue.
 *
 * @example
 * const model = pipeline(base, rateLimit({ ratePerSecond: 50, burst: 100, key: (_, o) => o?.principal?.id ?? 'anonymous' }));
 */
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  return rateLimitFromParsed(parseOptions('rateLimit', rateLimitOptionsSchema, options) as RateLimitOptions);
}

/** @internal {@link rateLimit} from options already parsed with {@link rateLimitOptionsSchema} (createClient's section). */
export function rateLimitFromParsed(options: RateLimitOptions): RateLimitMiddleware {
  const limiter: Limiter =
    options.limiter ??
    new TokenBucketLimiter({
      ratePerSecond: options.ratePerSecond as number,
      ...(options.burst === undefined ? {} : { burst: options.burst }),
      ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }),
    });
  const keyOf = options.key ?? principalKey;
  const costOf = options.cost;
  let rejected = 0;
  const middleware = function rateLimitMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    const name = next.name;
    return wrapModel(next, function rateLimited(input: I, callOptions?: InferOptions): Promise<O> {
      let key: string;
      let result: TakeResult | Promise<TakeResult>;
      try {
        key = keyOf(input, callOptions);
        result = limiter.take(key, costOf === undefined ? 1 : costOf(input, callOptions), callOptions);
      } catch (error) {
        return Promise.reject(failedTake(error));
      }
      // An in-process limiter answers at once: no promise on the hot path.
      if (typeof (result as Promise<TakeResult>).then !== 'function') return decide(result as TakeResult, key, input, callOptions);
      return (result as Promise<TakeResult>).then(
        (answer) => decide(answer, key, input, callOptions),
        (error: unknown) =>
          Promise.reject(
            error instanceof BallastError ? error : new BallastError('INTERNAL', 'rateLimit: the limiter failed', { cause: error }),
          ),
      );
    });

    function decide(result: TakeResult, key: string, input: I, callOptions: InferOptions | undefined): Promise<O> {
      if (result.ok) return callModel(next, input, callOptions);
      rejected++;
      if (channels.rejection.hasSubscribers) {
        channels.rejection.publish({ model: name, code: 'RATE_LIMITED', source: 'rate-limit', key });
      }
      return Promise.reject(
        new BallastError('RATE_LIMITED', `rate limit of "${name}" exceeded${key === '' ? '' : ` for "${key}"`}`, {
          retryAfterMs: result.retryAfterMs,
          details: { key, ratePerSecond: limiter.ratePerSecond, burst: limiter.burst },
        }),
      );
    }
  } as RateLimitMiddleware;
  middleware.stats = () => ({ rejected });
  Object.defineProperty(middleware, 'limiter', { value: limiter, enumerable: true });
  return middleware;
}
