// docs/examples/client-hedge.ts
import { hedge } from '@ballast/client';
import { defineModel, type InferOptions, pipeline, signalOf, subscribe } from '@ballast/core';

// Every fifth call is stuck behind a slow replica for 300 ms; others take 5 ms.
let calls = 0;
const replicas = defineModel({
  name: 'search',
  infer: (query: string, options?: InferOptions) => {
    const ms = ++calls % 5 === 1 ? 300 : 5;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(resolve, ms, `${query}: ${ms} ms replica`);
      signalOf(options)?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted: the other attempt won'));
      });
    });
  },
});

const stop = subscribe('hedge', (e) => {
  if (e.winner) console.log(`hedge after ${e.afterMs} ms, winner: ${e.winner}`);
});
const policy = hedge({ delayMs: 30, maxRatio: 0.5 });
const model = pipeline(replicas, policy);
const started = performance.now();
console.log(await model.infer('boots', { timeoutMs: 1_000 }));
console.log(`answered in ${(performance.now() - started).toFixed(0)} ms instead of 300`);
console.log(policy.stats());
stop();
