import { AsyncLocalStorage } from 'node:async_hooks';
import type { InferOptions, Principal } from '@ballast/core';

/** What Ballast knows about the HTTP request being served. */
export interface BallastRequestContext {
  /** The request id: the caller's `x-request-id` when it is well-formed, else a generated UUID. */
  readonly requestId: string;
  /** The authenticated principal, when `BallastAuthGuard` ran. */
  readonly principal: Principal | undefined;
  /** The matched route, e.g. `POST /v2/models/:name/infer`. */
  readonly route: string;
  /** The options every model call made while serving this request starts from. */
  readonly options: InferOptions;
}

/*
 * AsyncLocalStorage rather than an explicit parameter: a controller calls `model.infer(input)` as
 * it would anywhere else and the request's principal, deadline and attributes still reach the
 * model's middleware (rate limits keyed on the principal, telemetry, deadlines). Nest runs the
 * handler inside the async scope the interceptor opens (its `next.handle()` binds it).
 */
const storage = new AsyncLocalStorage<BallastRequestContext>();

/** @internal Runs `fn` with `context` as the current request context. */
export function runWithContext<T>(context: BallastRequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The context of the request being served, or `undefined` outside a request that went through
 * `BallastContextInterceptor`.
 *
 * @example
 * const requestId = currentRequestContext()?.requestId;
 */
export function currentRequestContext(): BallastRequestContext | undefined {
  return storage.getStore();
}

/**
 * Merges the current request's options under `options`: fields given in `options` win, the
 * attributes are merged, and the earlier deadline wins. Returns `options` unchanged outside a
 * request.
 *
 * @example
 * await someModel.infer(input, withRequestOptions({ priority: 1 }));
 */
export function withRequestOptions(options?: InferOptions): InferOptions | undefined {
  const context = storage.getStore();
  if (context === undefined) return options;
  if (options === undefined) return context.options;
  return mergeOptions(context.options, options);
}

/** @internal `own` over `base`; attributes merged, the earlier deadline wins. */
export function mergeOptions(base: InferOptions, own: InferOptions): InferOptions {
  const merged: InferOptions = { ...base, ...own };
  if (base.attributes !== undefined && own.attributes !== undefined) merged.attributes = { ...base.attributes, ...own.attributes };
  if (base.deadline !== undefined && own.deadline !== undefined) merged.deadline = Math.min(base.deadline, own.deadline);
  if (base.signal !== undefined && own.signal !== undefined && base.signal !== own.signal) {
    merged.signal = AbortSignal.any([base.signal, own.signal]);
  }
  return merged;
}
