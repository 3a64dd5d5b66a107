// docs/examples/client-retry-breaker.ts
import { circuitBreaker, retry } from '@ballast/client';
import { BallastError, defineModel, pipeline, subscribe } from '@ballast/core';

let healthy = false;
const upstream = defineModel({
  name: 'ranker',
  infer: async (query: string) => {
    if (!healthy) throw new BallastError('MODEL_UNAVAILABLE', 'warming up', { retryAfterMs: 20 });
    return `results for ${query}`;
  },
});

const stopRetry = subscribe('retry', (e) => console.log(`retry: attempt ${e.attempt} failed, next in ${e.delayMs.toFixed(0)} ms`));
const stopBreaker = subscribe('breaker', (e) => console.log(`breaker: ${e.from} -> ${e.to} (${e.reason})`));

// retry outside the breaker: the breaker sees every attempt, and CIRCUIT_OPEN is not retried.
const breaker = circuitBreaker({ consecutiveFailures: 3, openMs: 100 });
const model = pipeline(upstream, retry({ maxAttempts: 2, baseDelayMs: 10, budget: { ratio: 0.2, minPerSecond: 5 } }), breaker);

for (let i = 0; i < 3; i++) {
  try {
    await model.infer('shoes', { timeoutMs: 500 });
  } catch (error) {
    const e = error as BallastError;
    console.log(`call ${i + 1}: ${e.code}${e.retryAfterMs === undefined ? '' : ` (retry after ${e.retryAfterMs} ms)`}`);
  }
}

// After openMs a trial call goes through; a success closes the breaker.
healthy = true;
await new Promise((resolve) => setTimeout(resolve, 110));
console.log(await model.infer('shoes', { timeoutMs: 500 }));

// Manual control for incidents and game days.
breaker.isolate();
await model.infer('shoes').catch((e: BallastError) => console.log(`isolated: ${e.code}`));
breaker.reset();
console.log(`state after reset: ${breaker.state()}`);
stopRetry();
stopBreaker();
