import { BallastError, type InferOptions, type Model, signalOf } from '@ballast/core';

/*
 * Small scripted models shared by the tests (not exported from the package).
 */

/** A model whose calls follow a script of outcomes; records every call. */
export function scripted<I = unknown>(
  name: string,
  script: (call: number, input: I, options: InferOptions | undefined) => Promise<unknown> | unknown,
): Model<I, unknown> & { calls: number; signals: (AbortSignal | undefined)[] } {
  const model = {
    name,
    kind: 'internal' as const,
    calls: 0,
    signals: [] as (AbortSignal | undefined)[],
    async infer(input: I, options?: InferOptions): Promise<unknown> {
      const call = ++model.calls;
      model.signals.push(options?.signal);
      return script(call, input, options);
    },
  };
  return model;
}

/** A retryable upstream failure. */
export function unavailable(retryAfterMs?: number): BallastError {
  return new BallastError('MODEL_UNAVAILABLE', 'down', retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** Resolves after `ms` (fake or real timers), or rejects when the call's signal aborts. */
export function delay<T>(ms: number, value: T, options?: InferOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => resolve(value), ms);
    const signal = signalOf(options);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * Watches a promise on the (possibly fake) clock: `at` is the `performance.now()` reading when it
 * settled, `undefined` while it is pending. Reading the clock after advancing fake timers only
 * gives back the advance; this records when the call itself answered.
 */
export function settleTime(promise: Promise<unknown>): { readonly at: number | undefined } {
  const watch: { at: number | undefined } = { at: undefined };
  const mark = (): void => {
    watch.at = performance.now();
  };
  promise.then(mark, mark);
  return watch;
}
