import { BallastError, callModel, channels, type InferOptions, type Middleware, type Model } from '@ballast/core';
import { wrapModel } from './model-wrap.js';
import { checkFunction } from './options-check.js';
import { TokenBucketLimiter } from './token-bucket.js';

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Calls (tokens) per second, per key. Required, > 0. */
  ratePerSecond: number;
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
  /** Use this limiter instead of creating one (to share a limit across models). */
  limiter?: TokenBucketLimiter;
}

function principalKey(_input: unknown, options: InferOptions | undefined): string {
  return options?.principal?.id ?? '';
}

/**
 * A middleware for a {@link rateLimit} policy, with the limiter it uses.
 */
export interface RateLimitMiddleware extends Middleware {
  /** The token buckets behind the policy. */
  readonly limiter: TokenBucketLimiter;
  /** Counters since creation. */
  stats(): { rejected: number };
}

/**
 * Limits calls per key with a token bucket. A call over the limit fails at once with
 * `RATE_LIMITED` (retryable) carrying `retryAfterMs`, and a `ballast:rejection` event is published;
 * it never waits in a queue.
 *
 * @example
 * const model = pipeline(base, rateLimit({ ratePerSecond: 50, burst: 100, key: (_, o) => o?.principal?.id ?? 'anonymous' }));
 */
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'rateLimit: options must be an object');
  checkFunction('rateLimit', 'key', options?.key);
  checkFunction('rateLimit', 'cost', options?.cost);
  const limiter =
    options.limiter ??
    new TokenBucketLimiter({
      ratePerSecond: options.ratePerSecond,
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
      let result: ReturnType<TokenBucketLimiter['take']>;
      try {
        key = keyOf(input, callOptions);
        result = limiter.take(key, costOf === undefined ? 1 : costOf(input, callOptions));
      } catch (error) {
        return Promise.reject(
          error instanceof BallastError
            ? error
            : new BallastError('INVALID_INPUT', 'rateLimit: key or cost function failed', { cause: error }),
        );
      }
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
    });
  } as RateLimitMiddleware;
  middleware.stats = () => ({ rejected });
  Object.defineProperty(middleware, 'limiter', { value: limiter, enumerable: true });
  return middleware;
}
