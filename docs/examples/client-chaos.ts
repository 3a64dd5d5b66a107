// docs/examples/client-chaos.ts
import { createClient } from '@ballast/client';
import { defineModel } from '@ballast/core';

// A game day: 30 % errors, 2 % hangs and 1-5 ms of latency, replayable from the seed.
const client = createClient({
  model: defineModel({ name: 'recommender', infer: async (user: number) => [user, user + 1] }),
  timeoutMs: 100,
  retry: { maxAttempts: 2, baseDelayMs: 1 },
  breaker: { consecutiveFailures: 5, openMs: 20 },
  fallback: { chain: [{ value: [] as number[], name: 'popular-items' }], reserveMs: 30 },
  chaos: { seed: 7, errorRate: 0.3, hangRate: 0.02, latency: { kind: 'uniform', minMs: 1, maxMs: 5 } },
});

// 200 users, 20 at a time; a hung call is abandoned at 70 ms and the fallback answers within the budget.
const answers: number[][] = [];
for (let first = 0; first < 200; first += 20) {
  const batch = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.infer(first + i)));
  for (const outcome of batch) if (outcome.status === 'fulfilled') answers.push(outcome.value);
}
const stats = client.stats();
console.log(`${answers.length} answers, ${stats.failed} failures (${JSON.stringify(stats.errors)})`);
console.log(`injected: ${JSON.stringify(stats.chaos)}`);
console.log(`served by fallback: ${JSON.stringify(stats.fallback?.served)}, retries: ${stats.retry?.retries}`);
