/**
 * What one call budget costs: ns/call of a call with `timeoutMs` through `pipeline()`, against a
 * bare async call, `AbortSignal.timeout()` and cockatiel's `timeout()`, measured in one run.
 * Goal: a budget through `pipeline()` under 300 ns over a bare call.
 *
 *   pnpm bench deadline
 */
import { defineModel, pipeline } from '@ballast/core';
import { TimeoutStrategy, timeout } from 'cockatiel';
import { nsPerCall, size, table } from './_harness.js';

const iterations = size(200_000, 2_000);
const rounds = size(7, 1);

async function work(x: number): Promise<number> {
  return x + 1;
}
const model = pipeline(defineModel({ name: 'bare', infer: work }));
const budget = { timeoutMs: 1_000 };
const cockatielTimeout = timeout(1_000, TimeoutStrategy.Aggressive);

let sink = 0;
const bare = await nsPerCall(async () => (sink += await work(1)), iterations, rounds);
const plain = await nsPerCall(async () => (sink += await model.infer(1)), iterations, rounds);
const budgeted = await nsPerCall(async () => (sink += await model.infer(1, budget)), iterations, rounds);
const controller = new AbortController();
const withSignal = await nsPerCall(
  async () => (sink += await model.infer(1, { timeoutMs: 1_000, signal: controller.signal })),
  iterations,
  rounds,
);
const abortTimeout = await nsPerCall(
  async () => {
    const signal = AbortSignal.timeout(1_000);
    sink += await work(signal.aborted ? 0 : 1);
  },
  iterations,
  rounds,
);
const cockatiel = await nsPerCall(async () => (sink += await cockatielTimeout.execute(() => work(1))), iterations, rounds);

console.log(`${iterations.toLocaleString('en-US')} sequential calls per round, best of ${rounds} rounds\n`);
table(
  ['call', 'ns/call', 'over bare (ns)', 'x bare'],
  [
    ['bare async call', bare, 0, 1],
    ['pipeline(), no budget', plain, plain - bare, plain / bare],
    ['pipeline(), timeoutMs', budgeted, budgeted - bare, budgeted / bare],
    ['pipeline(), timeoutMs + signal', withSignal, withSignal - bare, withSignal / bare],
    ['AbortSignal.timeout() + call', abortTimeout, abortTimeout - bare, abortTimeout / bare],
    ['cockatiel timeout().execute', cockatiel, cockatiel - bare, cockatiel / bare],
  ],
);
console.log(
  `\npipeline() budget overhead: ${(budgeted - bare).toFixed(0)} ns (goal < 300 ns); ` +
    `AbortSignal.timeout() costs ${((abortTimeout - bare) / Math.max(1, budgeted - bare)).toFixed(1)}x and ` +
    `cockatiel timeout ${((cockatiel - bare) / Math.max(1, budgeted - bare)).toFixed(1)}x the pipeline budget's overhead`,
);
if (sink === 42) console.log('');
