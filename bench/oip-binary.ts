/**
 * What the Open Inference Protocol v2 wire formats cost end to end: remoteModel() calling a
 * ballastRouter() on 127.0.0.1 (one process), an echo model answering its input, for
 *   (a) FP32 as JSON (the reference),
 *   (b) FP32 with the binary tensor data extension (`binary: true`: inputs and outputs as bytes),
 *   (c) INT64 as JSON with values beyond 2^53 (parsed exactly with lossless-json on both sides),
 *   (d) INT64 with the binary extension.
 * Printed: requests/s, p50/p99 latency and each row's throughput over (a), measured in the same run.
 *
 *   pnpm bench oip-binary            full run
 *   pnpm bench oip-binary --smoke    a few requests each
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { remoteModel } from '@ballast/client';
import { defineModel, type TensorValue } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { closedLoop, size, table } from './_harness.js';

const elements = size(16_384, 1_024);
const total = size(400, 20);
const concurrency = 4;

type Row = Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>;
const echo = defineModel<Row, Record<string, TensorValue>>({
  name: 'echo',
  async infer(row) {
    const x = row.x as { data: ArrayLike<unknown>; dims: readonly number[] };
    const type = x.data instanceof BigInt64Array ? 'int64' : 'float32';
    return { y: { type, dims: [...x.dims], data: x.data } as TensorValue };
  },
});

// The bench workspace has no type package for express: load it untyped, describing what is used.
type ExpressApp = { use(handler: unknown): void; listen(port: number, host: string): Server };
const express = createRequire(import.meta.url)('express') as () => ExpressApp;
const app = express();
app.use(ballastRouter({ models: [echo] }));
const server = app.listen(0, '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const floats = Float32Array.from({ length: elements }, (_, i) => Math.sin(i) * 1000);
const ints = BigInt64Array.from({ length: elements }, (_, i) => 2n ** 60n + BigInt(i) * 7919n);

const cases = [
  { label: '(a) FP32 JSON', binary: false, input: floats },
  { label: '(b) FP32 binary', binary: true, input: floats },
  { label: '(c) INT64 > 2^53 JSON', binary: false, input: ints },
  { label: '(d) INT64 binary', binary: true, input: ints },
] as const;

const rows: (string | number)[][] = [];
let reference = 0;
for (const { label, binary, input } of cases) {
  const model = remoteModel({ url, protocol: 'open-inference-v2', name: 'echo', binary, maxResponseBytes: 64 * 1024 * 1024 });
  // Every answer is checked, so a format that loses values cannot look fast.
  const check = (output: Awaited<ReturnType<typeof model.infer>>) => {
    const data = output.y?.data as ArrayLike<unknown>;
    if (data.length !== input.length || data[elements - 1] !== input[elements - 1]) throw new Error(`${label}: wrong answer`);
  };
  check(await model.infer({ x: input }));
  const result = await closedLoop(async () => check(await model.infer({ x: input })), total, concurrency);
  if (reference === 0) reference = result.rowsPerSecond;
  rows.push([
    label,
    Math.round(result.rowsPerSecond),
    result.p50.toFixed(2),
    result.p99.toFixed(2),
    `${((result.rowsPerSecond / reference) * 100).toFixed(0)}%`,
  ]);
}
server.closeAllConnections();
server.close();

console.log(`\nv2 wire formats, ${elements} values per tensor, ${total} requests, ${concurrency} callers`);
table(['format', 'requests/s', 'p50 ms', 'p99 ms', 'vs (a)'], rows);
