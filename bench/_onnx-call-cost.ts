/**
 * What one call costs, Ballast against the minimal batcher on as many threads (`main`, the
 * default, or `worker`: 1 worker each), without the closed loop of `bench/onnx.ts`: bursts of 256 single-row calls (16→64→4 MLP, batches of 64), timed
 * while they are made (validating and queueing them, and the batches that fill on the way) and
 * until all of them have settled. The two alternate burst series in one process; the medians of
 * 12 pairs are printed: Ballast's whole call as a multiple of the minimal batcher's, and how many
 * ns more Ballast spends making a call. Less noisy than throughput rounds, so it shows changes
 * of a few ns a call in the part that makes the calls.
 *
 *   tsx --conditions=source bench/_onnx-call-cost.ts [main|worker]
 */
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import * as ort from 'onnxruntime-node';
import { minimalBatcher } from './_minimal-batcher.js';
import { mlpWorkerReference } from './_worker-reference.js';

const BURST = 256;
const mode = process.argv[2] === 'worker' ? 'worker' : 'main';
const bytes = mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 1 }), softmax: true });
const rows = Array.from({ length: 1024 }, (_, r) => Float32Array.from({ length: 16 }, (_, i) => Math.sin(r * 16 + i)));
const inputs = rows.map((row) => ({ input: row }));
const model = await onnxModel({ bytes, workers: mode === 'worker' ? 1 : 0, batching: { maxBatchSize: 64, maxQueue: 100_000 } });
const raw = await ort.InferenceSession.create(bytes);
const reference = mode === 'worker' ? await mlpWorkerReference(bytes, 1, 64) : undefined;
const minimal = reference ? (row: Float32Array) => reference.infer(row) : minimalBatcher(raw, { maxBatch: 64, inWidth: 16, outWidth: 4 });

/** ns per call while the calls are made, and until they have all settled. */
async function series(call: (i: number) => Promise<unknown>): Promise<[number, number]> {
  let makingNs = 0;
  let wholeNs = 0;
  let calls = 0;
  const promises = new Array<Promise<unknown>>(BURST);
  for (let burst = 0; burst < 1500; burst++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BURST; i++) promises[i] = call(i);
    const t1 = process.hrtime.bigint();
    await Promise.all(promises);
    const t2 = process.hrtime.bigint();
    // The first bursts warm up.
    if (burst >= 250) {
      makingNs += Number(t1 - t0);
      wholeNs += Number(t2 - t0);
      calls += BURST;
    }
  }
  return [makingNs / calls, wholeNs / calls];
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
const wholeRatios: number[] = [];
const makingExtra: number[] = [];
const ballastWhole: number[] = [];
for (let pair = 0; pair < 12; pair++) {
  const [ballastMaking, ballastAll] = await series((i) => model.infer(inputs[i % inputs.length] as { input: Float32Array }));
  const [minimalMaking, minimalAll] = await series((i) => minimal(rows[i % rows.length] as Float32Array));
  wholeRatios.push(ballastAll / minimalAll);
  makingExtra.push(ballastMaking - minimalMaking);
  ballastWhole.push(ballastAll);
}
console.log(
  `${mode}: Ballast ${median(ballastWhole).toFixed(0)} ns a call, ${median(wholeRatios).toFixed(3)} x the minimal batcher's; ` +
    `making a call ${median(makingExtra).toFixed(1)} ns more (medians of 12 pairs)`,
);
await model.close();
await reference?.close();
await raw.release();
