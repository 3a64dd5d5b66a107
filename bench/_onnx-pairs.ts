/**
 * Ballast against the minimal batchers of `bench/onnx.ts` (16→64→4 MLP, 256 single-row callers),
 * in short rounds that alternate between the two, so that load on a shared machine shifts both
 * alike: each pair of adjacent rounds gives one ratio, and the median and range of the ratios are
 * printed. `main`: Ballast on the main thread against the minimal main-thread batcher; `worker`:
 * Ballast with 1 worker against the minimal 1-worker batcher; `workers`: 2 workers against the
 * minimal 2-worker batcher.
 *
 *   tsx --conditions=source bench/_onnx-pairs.ts main [pairs] [rows per round]
 */
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import * as ort from 'onnxruntime-node';
import { closedLoop } from './_harness.js';
import { minimalBatcher } from './_minimal-batcher.js';
import { mlpWorkerReference } from './_worker-reference.js';

const MAX_BATCH = 64;
const mode = process.argv[2] ?? 'main';
const pairs = Number(process.argv[3] ?? 15);
const perRound = Number(process.argv[4] ?? 40_000);
const bytes = mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 1 }), softmax: true });
const rows = Array.from({ length: 1024 }, (_, r) => Float32Array.from({ length: 16 }, (_, i) => Math.sin(r * 16 + i)));

const raw = await ort.InferenceSession.create(bytes);
const minimal = minimalBatcher(raw, { maxBatch: MAX_BATCH, inWidth: 16, outWidth: 4 });
const viaMinimal = (i: number) => minimal(rows[i % rows.length] as Float32Array);

const workers = mode === 'workers' ? 2 : mode === 'worker' ? 1 : 0;
const model = await onnxModel({ bytes, workers, batching: { maxBatchSize: MAX_BATCH, maxQueue: 100_000 } });
const viaBallast = (i: number) => model.infer({ input: rows[i % rows.length] as Float32Array });
const reference = workers > 0 ? await mlpWorkerReference(bytes, workers, MAX_BATCH) : undefined;
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
