/**
 * @ballast/drift speed, each against a peer measured in the same run:
 * - `ksTest` (exact p-value at 10k vs 10k, asymptotic at 100k vs 100k) vs scipy's `ks_2samp` on
 *   the same arrays, when python3 with scipy is available (the arrays go through a temp file);
 * - `DriftMonitor` ingest of 16 numeric features (columns and row objects, window evaluations
 *   included) vs a plain copy of the same values into typed arrays (the floor);
 * - `driftMiddleware` on an unsampled call vs the bare model call.
 *
 *   pnpm bench drift            full run
 *   pnpm bench drift --smoke    a few iterations (CI)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineModel, pipeline } from '@ballast/core';
import { createProfile, DriftMonitor, driftMiddleware, ksTest } from '@ballast/drift';
import { nsPerCall, size, smoke, table } from './_harness.js';

function normals(n: number, mean: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return out;
}

function bestMs(fn: () => unknown, rounds: number): number {
  fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

// --- ksTest vs scipy ---------------------------------------------------------------------------
const rounds = size(7, 1);
const sizes = smoke ? [2000] : [10_000, 100_000];
const directory = mkdtempSync(join(tmpdir(), 'ballast-drift-bench-'));
const ksRows: (string | number)[][] = [];
try {
  for (const n of sizes) {
    const a = normals(n, 0, 1);
    const b = normals(n, 0.02, 2);
    const ours = bestMs(() => ksTest(a, b), rounds);
    const result = ksTest(a, b);
    writeFileSync(join(directory, 'a.bin'), Buffer.from(a.buffer));
    writeFileSync(join(directory, 'b.bin'), Buffer.from(b.buffer));
    const script = [
      'import sys, time, numpy as np',
      'from scipy.stats import ks_2samp',
      `a = np.fromfile(${JSON.stringify(join(directory, 'a.bin'))}); b = np.fromfile(${JSON.stringify(join(directory, 'b.bin'))})`,
      'r = ks_2samp(a, b); best = float("inf")',
      `for _ in range(${rounds}):`,
      '    t = time.perf_counter(); ks_2samp(a, b); best = min(best, time.perf_counter() - t)',
      'print(best * 1000, r.statistic, r.pvalue)',
    ].join('\n');
    const python = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 120_000 });
    if (python.status === 0) {
      const [ms, statistic, pValue] = python.stdout.trim().split(' ').map(Number) as [number, number, number];
      ksRows.push([`${n} vs ${n}`, ours, ms, ms / ours, Math.abs(result.pValue - pValue) / Math.max(pValue, 1e-300)]);
      if (Math.abs(statistic - result.statistic) > 1e-12) console.log(`statistic differs: ${statistic} vs ${result.statistic}`);
    } else {
      ksRows.push([`${n} vs ${n}`, ours, Number.NaN, Number.NaN, Number.NaN]);
      console.log('python3 with scipy not available: scipy column skipped');
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
console.log('\nksTest (best of rounds, ms); ratio > 1 means Ballast is faster');
table(['samples', 'ballast ms', 'scipy ms', 'scipy / ballast', 'p-value rel. diff'], ksRows);

// --- DriftMonitor ingest -----------------------------------------------------------------------
const FEATURES = 16;
const names = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
const referenceColumns = Object.fromEntries(names.map((name, i) => [name, Array.from(normals(2000, 0, 100 + i))]));
const reference = createProfile(referenceColumns);
const rowsTotal = size(200_000, 5_000);
const liveColumns = Object.fromEntries(names.map((name, i) => [name, normals(rowsTotal, 0.05, 500 + i)]));
const liveRows = Array.from({ length: rowsTotal }, (_, r) =>
  Object.fromEntries(names.map((name) => [name, (liveColumns[name] as Float64Array)[r] as number])),
);
const ingestRounds = size(3, 1);
let windows = 0;
const columnsMs = bestMs(() => {
  const monitor = new DriftMonitor({ reference, window: { size: 1000 } });
  windows = monitor.observeColumns(liveColumns).length;
}, ingestRounds);
const rowsMs = bestMs(() => new DriftMonitor({ reference, window: { size: 1000 } }).observeRows(liveRows), ingestRounds);
const copyMs = bestMs(() => {
  const ring = names.map(() => new Float64Array(1000));
  for (let r = 0; r < rowsTotal; r++)
    for (let c = 0; c < FEATURES; c++) (ring[c] as Float64Array)[r % 1000] = (liveColumns[names[c] as string] as Float64Array)[r] as number;
}, ingestRounds);
const values = rowsTotal * FEATURES;
console.log(`\nDriftMonitor ingest: ${rowsTotal} rows × ${FEATURES} numeric features, windows of 1000 (${windows} evaluations with KS)`);
table(
  ['path', 'M values/s', 'plain copy / path'],
  [
    ['observeColumns (Float64Array)', values / columnsMs / 1000, columnsMs / copyMs],
    ['observeRows (objects)', values / rowsMs / 1000, rowsMs / copyMs],
    ['plain copy into typed arrays', values / copyMs / 1000, 1],
  ],
);

// --- middleware on an unsampled call ----------------------------------------------------------
const model = defineModel<{ x: number }, number>({ name: 'm', infer: async ({ x }) => x });
const monitor = new DriftMonitor({ reference: createProfile([{ x: 1 }, { x: 2 }, { x: 3 }]) });
const wrapped = pipeline(model, driftMiddleware(monitor, { sampleRate: 0.001 }));
const input = { x: 1 };
const iterations = size(300_000, 2_000);
const bare = await nsPerCall(() => model.infer(input), iterations);
const observed = await nsPerCall(() => wrapped.infer(input), iterations);
console.log('\ndriftMiddleware, sampleRate 0.001 (almost every call unsampled)');
table(
  ['call', 'ns/call', 'added ns'],
  [
    ['bare model.infer', bare, 0],
    ['pipeline(model, driftMiddleware)', observed, observed - bare],
  ],
);
