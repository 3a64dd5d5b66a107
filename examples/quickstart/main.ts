/**
 * A first look at @ballast/core: a batchable model behind `pipeline()` with `batching()`,
 * 512 concurrent callers, a per-call budget, and the events telemetry listens to.
 *
 *   pnpm --filter @ballast/example-quickstart start
 */
import { BallastError, batching, defineModel, isBallastError, pipeline, subscribe } from '@ballast/core';

// A tiny logistic model over 4 features. Like a real in-process runtime it burns CPU: a fixed
// 0.2 ms per call plus 2 us per row, which is why grouping concurrent callers pays.
const weights = [0.8, -0.5, 0.3, 1.2];
const score = (row: readonly number[]) => 1 / (1 + Math.exp(-row.reduce((s, x, i) => s + x * (weights[i] ?? 0), 0)));
const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

const base = defineModel<number[], number>({
  name: 'logistic',
  version: '1',
  infer: async (row) => {
    spin(0.2);
    return score(row);
  },
  inferBatch: async (rows) => {
    spin(0.2 + rows.length * 0.002);
    return rows.map(score);
  },
});

let batches = 0;
let rowsInBatches = 0;
const stop = subscribe('batch', (event) => {
  if (event.phase === 'complete') {
    batches++;
    rowsInBatches += event.size;
  }
});

const batched = pipeline(base, batching({ maxBatchSize: 64, maxDelayMs: 1 }));
const rows = Array.from({ length: 4096 }, (_, i) => [Math.sin(i), Math.cos(i), (i % 7) / 7, (i % 3) - 1]);

async function run(model: typeof base, label: string) {
  const started = performance.now();
  let next = 0;
  const results = new Array<number>(rows.length);
  await Promise.all(
    Array.from({ length: 512 }, async () => {
      while (next < rows.length) {
        const i = next++;
        results[i] = await model.infer(rows[i] as number[], { timeoutMs: 1000 });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(28)} ${rows.length} rows in ${(seconds * 1000).toFixed(0)} ms  (${Math.round(rows.length / seconds)} rows/s)`,
  );
  return results;
}

console.log('Ballast core quickstart: 512 concurrent callers, 4096 rows\n');
const direct = await run(base, 'direct infer() per row');
const viaBatcher = await run(batched, 'pipeline + batching()');
const same = direct.every((value, i) => Math.abs(value - (viaBatcher[i] as number)) < 1e-12);
console.log(`\nbatches: ${batches}, mean batch size ${(rowsInBatches / Math.max(1, batches)).toFixed(1)}; results identical: ${same}`);

// One budget per call: a model that hangs still answers its caller on time, with a typed error.
const hanging = pipeline(defineModel({ name: 'hangs', infer: () => new Promise<never>(() => {}) }));
const t0 = performance.now();
try {
  await hanging.infer({}, { timeoutMs: 50 });
} catch (error) {
  if (!isBallastError(error)) throw error;
  console.log(`hanging model with timeoutMs 50: ${error.code} after ${(performance.now() - t0).toFixed(0)} ms (HTTP ${error.status})`);
}
stop();
if (!same) throw new BallastError('INTERNAL', 'batched results differ from direct ones');
