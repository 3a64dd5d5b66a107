/**
 * A focused run of one `bench/onnx.ts` mode at concurrency 256 (for `node --cpu-prof`): Ballast
 * on the main thread (`main`), with one worker (`worker`) or two (`workers`), the minimal batcher
 * (`minimal`) or the minimal batcher over one worker (`minimal-worker`) or two (`minimal-workers`).
 *
 *   node --cpu-prof --import tsx --conditions=source bench/_onnx-focus.ts main
 *
 * From the sources the profile puts each module on one line (tsx's output); with the packages
 * built (`pnpm --filter @ballast/core --filter @ballast/onnx build`) and without
 * `--conditions=source`, it names their lines. docs/onnx.md (Performance) gives the breakdown.
 */
import { subscribe } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import * as ort from 'onnxruntime-node';
import { closedLoop } from './_harness.js';
import { minimalBatcher } from './_minimal-batcher.js';
import { mlpWorkerReference } from './_worker-reference.js';

const MAX_BATCH = 64;
const mode = process.argv[2] ?? 'main';
const total = Number(process.argv[3] ?? 300_000);
const bytes = mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 1 }), softmax: true });
const rows = Array.from({ length: 1024 }, (_, r) => Float32Array.from({ length: 16 }, (_, i) => Math.sin(r * 16 + i)));
let call: (i: number) => Promise<unknown>;
let close: () => Promise<void>;
if (mode === 'minimal') {
  const raw = await ort.InferenceSession.create(bytes);
  const minimal = minimalBatcher(raw, { maxBatch: MAX_BATCH, inWidth: 16, outWidth: 4 });
  call = (i) => minimal(rows[i % rows.length] as Float32Array);
  close = () => raw.release();
} else if (mode === 'minimal-worker' || mode === 'minimal-workers') {
  const reference = await mlpWorkerReference(bytes, mode === 'minimal-worker' ? 1 : 2, MAX_BATCH);
  call = (i) => reference.infer(rows[i % rows.length] as Float32Array);
  close = () => reference.close();
} else {
  const model = await onnxModel({
    bytes,
    workers: mode === 'worker' ? 1 : mode === 'workers' ? 2 : 0,
    batching: { maxBatchSize: MAX_BATCH, maxQueue: 100_000 },
  });
  call = (i) => model.infer({ input: rows[i % rows.length] as Float32Array });
  close = () => model.close();
}
await closedLoop(call, 20_000, 256);
// CPU time moves less than wall time on a shared machine: it is printed too (all threads).
let batches = 0;
const stop = subscribe('batch', (event) => {
  if (event.phase === 'dispatch') batches++;
});
const cpu = process.cpuUsage();
const r = await closedLoop(call, total, 256);
const { user, system } = process.cpuUsage(cpu);
stop();
console.log(
  `${mode}: ${Math.round(r.rowsPerSecond)} rows/s, ${(1e6 / r.rowsPerSecond).toFixed(3)} µs/row wall, ${((user + system) / total).toFixed(3)} µs/row CPU${batches > 0 ? `, mean batch ${(total / batches).toFixed(1)}` : ''}`,
);
await close();
