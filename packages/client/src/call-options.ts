import { deadlineOf, type InferOptions, shareAttemptMemo } from '@ballast/core';

/**
 * @internal Options for work that must not be tied to the running call's scope (a hedged attempt
 * with its own abort signal, a background cache refresh, a budget tightened for fallbacks):
 * the public fields are copied, the scope is not, and the absolute deadline is kept (or replaced).
 * The attempt memo is shared: a detached attempt is still an attempt of the same logical call.
 */
export function detachedOptions(options: InferOptions | undefined, signal: AbortSignal | undefined, deadline?: number): InferOptions {
  const out: InferOptions = {};
  const d = deadline ?? deadlineOf(options);
  if (d !== Number.POSITIVE_INFINITY) out.deadline = d;
  if (signal !== undefined) out.signal = signal;
  if (options === undefined) return out;
  shareAttemptMemo(options, out);
  if (options.priority !== undefined) out.priority = options.priority;
  if (options.cacheKey !== undefined) out.cacheKey = options.cacheKey;
  if (options.principal !== undefined) out.principal = options.principal;
  if (options.attributes !== undefined) out.attributes = options.attributes;
  return out;
}

/**
 * @internal Sleeps `ms` (already capped at the call's remaining budget by the caller). No abort
 * listener: the outer scope answers the caller at once on cancel, and the loop that slept checks
 * `doneError()` when it wakes.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
