// docs/examples/client-deadline.ts
import { fallback, retry, timeout } from '@ballast/client';
import { BallastError, defineModel, type InferOptions, pipeline, remainingMs, signalOf } from '@ballast/core';

// An upstream that stalls for 5 s unless its signal aborts it.
const stalled = defineModel({
  name: 'translator',
  infer: (text: string, options?: InferOptions) =>
    new Promise<string>((resolve, reject) => {
      console.log(`attempt starts with ${remainingMs(options).toFixed(0)} ms left`);
      const timer = setTimeout(resolve, 5_000, text.toUpperCase());
      signalOf(options)?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new BallastError('UPSTREAM', 'aborted'));
      });
    }),
});

// The caller's 300 ms covers everything; each attempt is capped at 100 ms (timeout inside retry),
// and the fallback answers with what is left.
const model = pipeline(
  stalled,
  fallback({ chain: [(text: string) => `[untranslated] ${text}`], reserveMs: 50 }),
  retry({ maxAttempts: 3, baseDelayMs: 10, shouldRetry: (e) => (e as BallastError).code === 'TIMEOUT' }),
  timeout({ timeoutMs: 100 }),
);
const started = performance.now();
console.log(await model.infer('bonjour', { timeoutMs: 300 }));
console.log(`answered in ${(performance.now() - started).toFixed(0)} ms`);
