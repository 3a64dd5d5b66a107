// docs/examples/core-sliding-window.ts
import { SlidingWindow } from '@ballast/core';

// A failure ratio and a latency p95 over the last 10 s, in 10 buckets of 1 s (times in ms).
const CALLS = 0;
const FAILURES = 1;
const window = new SlidingWindow({ windowMs: 10_000, buckets: 10, counters: 2, samples: 1000 });

for (let second = 0; second < 20; second++) {
  const at = second * 1000;
  for (let call = 0; call < 10; call++) {
    window.add(CALLS, at);
    if (second >= 15 && call < 3) window.add(FAILURES, at); // the last 5 s go wrong
    window.observe(at, 20 + call * 5 + (second >= 15 ? 100 : 0));
  }
}

const at = 19_999;
console.log(`calls in the window: ${window.sum(CALLS, at)}`); // only seconds 10..19 are left
console.log(`failure ratio: ${(window.sum(FAILURES, at) / window.sum(CALLS, at)).toFixed(2)}`);
console.log(`p95 latency: ${window.quantile(0.95, at)} ms`);
