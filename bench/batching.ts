/**
 * Direct calls vs `batching()` on a synthetic batchable model whose every call costs a fixed
 * 100 us plus 1 us per row (the shape of an in-process runtime: one row costs about as much as
 * 32). Single-row callers at concurrency 1, 16 and 256; rows/s, p50 and p99, and the ratio.
 *
 *   pnpm bench batching
 */
import { batching, defineModel, pipeline } from '@ballast/core';
import { closedLoop, size, spin, table } from './_harness.js';

const FIXED_US = 100;
const PER_ROW_US = 1;
const total = size(20_000, 500);

const model = defineModel<number, number>({
  name: 'synthetic',
  infer: async (x) => {
    spin(FIXED_US + PER_ROW_US);
    return x * 2;
  },
  inferBatch: async (xs) => {
    spin(FIXED_US + PER_ROW_US * xs.length);
    return xs.map((x) => x * 2);
  },
});
const batched = pipeline(model, batching({ maxBatchSize: 64, maxDelayMs: 1, maxQueue: 100_000 }));

const rows: (string | number)[][] = [];
for (const concurrency of [1, 16, 256]) {
  // One caller at a time is slow: a quarter of the rows keeps that run short.
  const calls = concurrency === 1 ? total / 4 : total;
  const direct = await closedLoop((i) => model.infer(i), calls, concurrency);
  const viaBatcher = await closedLoop((i) => batched.infer(i), calls, concurrency);
  rows.push(
    [`direct, concurrency ${concurrency}`, direct.rowsPerSecond, direct.p50, direct.p99, 1],
    [
      `batching(), concurrency ${concurrency}`,
      viaBatcher.rowsPerSecond,
      viaBatcher.p50,
      viaBatcher.p99,
      viaBatcher.rowsPerSecond / direct.rowsPerSecond,
    ],
  );
}
console.log(`synthetic model: ${FIXED_US} us per call + ${PER_ROW_US} us per row; ${total.toLocaleString('en-US')} rows per run\n`);
table(['mode', 'rows/s', 'p50 ms', 'p99 ms', 'x direct'], rows);
