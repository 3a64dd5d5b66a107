/**
 * Ballast against the minimal batchers of `bench/onnx.ts` (16→64→4 MLP, 256 single-row callers),
 * in short rounds that alternate between the two, so that load on a shared machine shifts both
 * alike: each pair of adjacent rounds gives one ratio, and the median and range of the ratios are
 * printed. `main`: Ballast on the main thread against the minimal main-thread batcher; `worker`:
 * Ballast with 1 worker against the minimal 1-worker batcher.
 *
 *   tsx --conditions=source bench/_onnx-pairs.ts main [pairs] [rows per round]
 */
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import * as ort from 'onnxruntime-node';
import { closedLoop } from './_harness.js';
import { workerReference } from './_worker-reference.js';

const MAX_BATCH = 64;
const mode = process.argv[2] ?? 'main';
const pairs = Number(process.argv[3] ?? 15);
const perRound = Number(process.argv[4] ?? 40_000);
const bytes = mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 1 }), softmax: true });
const rows = Array.from({ length: 1024 }, (_, r) => Float32Array.from({ length: 16 }, (_, i) => Math.sin(r * 16 + i)));

const raw = await ort.InferenceSession.create(bytes);
let waiting: { row: Float32Array; resolve: (value: Float32Array) => void }[] = [];
let running = 0;
let flushQueued = false;
function flush(): void {
  while (running < 2 && waiting.length > 0) {
    const take = waiting.length > MAX_BATCH ? waiting.splice(0, MAX_BATCH) : waiting;
    if (take === waiting) waiting = [];
    const input = new Float32Array(take.length * 16);
    for (let k = 0; k < take.length; k++) input.set((take[k] as { row: Float32Array }).row, k * 16);
    running++;
    void raw.run({ input: new ort.Tensor('float32', input, [take.length, 16]) }).then((result) => {
      const output = result.output?.data as Float32Array;
      for (let k = 0; k < take.length; k++) take[k]?.resolve(output.subarray(k * 4, k * 4 + 4));
      running--;
      flush();
    });
  }
}
const viaMinimal = (i: number) =>
  new Promise<Float32Array>((resolve) => {
    waiting.push({ row: rows[i % rows.length] as Float32Array, resolve });
    if (waiting.length >= MAX_BATCH) flush();
    else if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(() => {
        flushQueued = false;
        flush();
      });
    }
  });

const model = await onnxModel({ bytes, workers: mode === 'worker' ? 1 : 0, batching: { maxBatchSize: MAX_BATCH, maxQueue: 100_000 } });
const viaBallast = (i: number) => model.infer({ input: rows[i % rows.length] as Float32Array });
const reference =
  mode === 'worker'
    ? await workerReference({
        bytes,
        workers: 1,
        slotsPerWorker: 4,
        batch: MAX_BATCH,
        inWidth: 16,
        outWidth: 4,
        inputName: 'input',
        outputName: 'output',
      })
    : undefined;
const viaReference = reference ? (i: number) => reference.infer(rows[i % rows.length] as Float32Array) : viaMinimal;

await closedLoop(viaBallast, 20_000, 256);
await closedLoop(viaReference, 20_000, 256);
const ratios: number[] = [];
const ballastRates: number[] = [];
const referenceRates: number[] = [];
for (let p = 0; p < pairs; p++) {
  // Alternate which goes first, so neither always follows the other.
  const first = p % 2 === 0;
  const a = first ? await closedLoop(viaBallast, perRound, 256) : undefined;
  const b = await closedLoop(viaReference, perRound, 256);
  const c = first ? (a as { rowsPerSecond: number }) : await closedLoop(viaBallast, perRound, 256);
  ratios.push(c.rowsPerSecond / b.rowsPerSecond);
  ballastRates.push(c.rowsPerSecond);
  referenceRates.push(b.rowsPerSecond);
}
const sorted = [...ratios].sort((x, y) => x - y);
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
console.log(
  `${mode}: Ballast / minimal over ${pairs} pairs: median ${median(ratios).toFixed(2)}, range ${sorted[0]?.toFixed(2)}–${sorted.at(-1)?.toFixed(2)}; ` +
    `median rows/s Ballast ${Math.round(median(ballastRates))}, minimal ${Math.round(median(referenceRates))}`,
);
await model.close();
await reference?.close();
await raw.release();
