// docs/examples/client-limits.ts
import { bulkhead, rateLimit, TokenBucketLimiter } from '@ballast/client';
import { type BallastError, defineModel, pipeline } from '@ballast/core';

const slow = defineModel({
  name: 'embedder',
  infer: (text: string) => new Promise<number>((resolve) => setTimeout(resolve, 20, text.length)),
});

// bulkhead: 2 running, 1 waiting, the rest fail at once with OVERLOADED.
const limited = pipeline(slow, bulkhead({ maxConcurrent: 2, maxQueue: 1 }));
const outcomes = await Promise.allSettled(['a', 'bb', 'ccc', 'dddd'].map((text) => limited.infer(text)));
console.log(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as BallastError).code)).join(', '));

// rateLimit: a token bucket per principal; over the limit fails with RATE_LIMITED and retryAfterMs.
const perUser = pipeline(slow, rateLimit({ ratePerSecond: 10, burst: 2 }));
for (let i = 0; i < 3; i++) {
  const result = await perUser
    .infer('hi', { principal: { id: 'alice' } })
    .catch((e: BallastError) => `${e.code}, retry after ${e.retryAfterMs} ms`);
  console.log(`alice #${i + 1}: ${result}`);
}
console.log(`bob #1: ${await perUser.infer('hi', { principal: { id: 'bob' } })}`);

// The limiter alone, framework-free, with an explicit clock for the demo.
const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1 });
console.log(limiter.take('tenant-a', 1, 0), limiter.take('tenant-a', 1, 0), limiter.take('tenant-a', 1, 1_000));
