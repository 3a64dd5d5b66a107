/**
 * What handing work to a worker thread costs on this machine, the measurement behind the onnx
 * worker transport: a round trip by `postMessage` (each side woken through its event loop), a
 * round trip through a futex (`Atomics.notify` to a worker sleeping in `Atomics.wait`, which is
 * how `@ballast/onnx` hands a batch to a worker), and the one-way time of a worker's message
 * to an idle main thread (how replies come back), with `Atomics.waitAsync` beside it. Ratios are
 * against the postMessage round trip, measured in the same run.
 *
 *   pnpm bench wakeup
 */
import { Worker } from 'node:worker_threads';
import { percentile, size, table } from './_harness.js';

const trips = size(3_000, 100);

// Atomics.waitAsync is in Node 16 and later, but in TypeScript's lib only from ES2024.
const { waitAsync } = Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// 1. postMessage there and back; the worker echoes.
const echo = new Worker(
  `const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));`,
  { eval: true },
);
await sleep(50);
const byMessage: number[] = [];
for (let i = 0; i < trips; i++) {
  const t0 = performance.now();
  await new Promise((resolve) => {
    echo.once('message', resolve);
    echo.postMessage(i);
  });
  byMessage.push((performance.now() - t0) * 1000);
}
await echo.terminate();

// 2. Futex there and back: the worker sleeps in Atomics.wait on word 0 and answers on word 1;
// the main thread blocks in Atomics.wait too (only to time the trip).
const words = new Int32Array(new SharedArrayBuffer(8));
const futex = new Worker(
  `const { workerData } = require('node:worker_threads');
   const w = new Int32Array(workerData);
   let seen = 0;
   for (;;) {
     Atomics.wait(w, 0, seen);
     seen = Atomics.load(w, 0);
     if (seen < 0) break;
     Atomics.store(w, 1, seen);
     Atomics.notify(w, 1);
   }`,
  { eval: true, workerData: words.buffer },
);
await sleep(50);
const byFutex: number[] = [];
for (let i = 1; i <= trips; i++) {
  const t0 = performance.now();
  Atomics.store(words, 0, i);
  Atomics.notify(words, 0);
  while (Atomics.load(words, 1) !== i) Atomics.wait(words, 1, i - 1, 10);
  byFutex.push((performance.now() - t0) * 1000);
}
Atomics.store(words, 0, -1);
Atomics.notify(words, 0);
await futex.terminate();

// 3. One way, worker to an idle main thread: the worker stamps the time and posts (or notifies
// a waitAsync); the main thread reads the clock when it runs. timeOrigin + now() is comparable
// across threads.
const stamp = new Float64Array(new SharedArrayBuffer(16));
const flag = new Int32Array(new SharedArrayBuffer(4));
const sender = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const stamp = new Float64Array(workerData.stamp);
   const flag = new Int32Array(workerData.flag);
   parentPort.on('message', (how) => {
     const until = performance.now() + 0.2;
     while (performance.now() < until);
     stamp[0] = performance.timeOrigin + performance.now();
     if (how === 'message') parentPort.postMessage(0);
     else { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }
   });`,
  { eval: true, workerData: { stamp: stamp.buffer, flag: flag.buffer } },
);
await sleep(50);
const oneWayMessage: number[] = [];
const oneWayWaitAsync: number[] = [];
for (let i = 0; i < trips; i++) {
  await new Promise<void>((resolve) => {
    sender.once('message', () => {
      oneWayMessage.push((performance.timeOrigin + performance.now() - (stamp[0] as number)) * 1000);
      resolve();
    });
    sender.postMessage('message');
  });
  Atomics.store(flag, 0, 0);
  const waiting = waitAsync(flag, 0, 0);
  sender.postMessage('notify');
  await waiting.value;
  oneWayWaitAsync.push((performance.timeOrigin + performance.now() - (stamp[0] as number)) * 1000);
}
await sender.terminate();

const base = percentile(byMessage, 50);
console.log(`thread hand-offs, ${trips} each (µs; ratio: median against the postMessage round trip)`);
table(
  ['hand-off', 'p10 µs', 'p50 µs', 'p90 µs', 'x postMessage round trip'],
  [
    ['postMessage round trip', percentile(byMessage, 10), base, percentile(byMessage, 90), 1],
    [
      'Atomics.wait/notify round trip',
      percentile(byFutex, 10),
      percentile(byFutex, 50),
      percentile(byFutex, 90),
      percentile(byFutex, 50) / base,
    ],
    [
      'worker → idle main, postMessage',
      percentile(oneWayMessage, 10),
      percentile(oneWayMessage, 50),
      percentile(oneWayMessage, 90),
      percentile(oneWayMessage, 50) / base,
    ],
    [
      'worker → idle main, waitAsync',
      percentile(oneWayWaitAsync, 10),
      percentile(oneWayWaitAsync, 50),
      percentile(oneWayWaitAsync, 90),
      percentile(oneWayWaitAsync, 50) / base,
    ],
  ],
);
