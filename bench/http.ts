/**
 * What the Ballast HTTP layer costs over a hand-written Express route, on the same model.
 *
 *   bare Express     express.json() and a handler that calls the model and answers v2 JSON
 *   Ballast router   ballastRouter(): API-key auth (HMAC), authorization, a per-principal rate limit,
 *                    v2 validation (hand-written fast path; zod only for a malformed body)
 *                    + input ranges, request ids, audit off, and
 *                    @ballast/otel instrument() with no SDK (an app without OpenTelemetry)
 *
 * The model is an in-process ONNX MLP (16→64→4) with micro-batching; both servers run in this
 * process and call the same model instance, one at a time. autocannon drives each with the same
 * single-row v2 request; rounds alternate and the best of each is kept, so load from other
 * processes hits both alike. The goal is Ballast ≥ 85 % of bare throughput.
 *
 *   pnpm bench http            full run
 *   pnpm bench http --smoke    one short round each
 */

import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { defineModel } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { instrument } from '@ballast/otel';
import { size, smoke, table } from './_harness.js';

// The bench workspace has no type packages for autocannon and express: load express untyped and
// describe the few members used here. autocannon runs as a child process (its CLI, `--json`), so
// the load generator does not share this process's event loop and the CPU measured here is the
// servers' alone.
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
interface JsonRequest {
  body: { id?: string; inputs: { data: number[] }[] };
}
interface JsonResponse {
  json(body: unknown): void;
  status(code: number): JsonResponse;
}
interface App {
  post(path: string, ...handlers: unknown[]): void;
  use(handler: unknown): void;
  listen(port: number, host: string): Server;
}
type Express = (() => App) & { json(): unknown };
const require = createRequire(import.meta.url);
const autocannonCli = require.resolve('autocannon/autocannon.js');
const run = promisify(execFile);

async function autocannon(url: string, headers: Record<string, string>, limit: string[]): Promise<LoadResult> {
  const headerArgs = Object.entries({ 'content-type': 'application/json', ...headers }).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const { stdout } = await run(
    process.execPath,
    [autocannonCli, '-c', String(connections), ...limit, '-m', 'POST', ...headerArgs, '-b', body, '--json', url],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as LoadResult;
}
const express = require('express') as Express;

const rounds = size(3, 1);
const durationSeconds = size(5, 1);
const connections = 32;

const onnx = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 5 }) }), name: 'mlp' });
// Both servers share the model; closing is left to the end of the run.
const model = defineModel({ name: 'mlp', infer: (input: unknown, options) => onnx.infer(input as never, options) });

const features = Array.from({ length: 16 }, (_, i) => (i % 5) / 5);
const body = JSON.stringify({ id: 'bench', inputs: [{ name: 'input', shape: [1, 16], datatype: 'FP32', data: features }] });

// The hand-written route: what an app would write without Ballast.
const bare = express();
bare.post('/v2/models/mlp/infer', express.json(), async (request: JsonRequest, res: JsonResponse) => {
  try {
    const tensor = request.body.inputs[0];
    const out = (await model.infer({ input: { data: Float32Array.from(tensor?.data ?? []), dims: [16] } })) as unknown as Record<
      string,
      { data: Float32Array; dims: number[] }
    >;
    const output = out.output as { data: Float32Array; dims: number[] };
    res.json({
      model_name: 'mlp',
      id: request.body.id,
      outputs: [{ name: 'output', shape: [1, ...output.dims], datatype: 'FP32', data: Array.from(output.data) }],
    });
  } catch (error) {
    res.status(500).json({ error: String(error) });
  }
});

const keys = apiKeys({ secret: 'a-bench-server-secret-long-enough!!', store: memoryKeyStore() });
const { key } = await keys.create({ principalId: 'bench', roles: ['infer'] });
const guard = createGuard({
  keys,
  limits: { rate: { ratePerSecond: 1_000_000, burst: 1_000_000 } },
  input: { maxBodyBytes: 64 * 1024, ranges: { input: { min: -10, max: 10 } } },
});
const router = ballastRouter({ models: [model], guard, timeoutMs: 5_000 });
const ballast = express();
ballast.use(router);

async function start(app: App): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v2/models/mlp/infer`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const servers = { bare: await start(bare), ballast: await start(ballast) };

async function load(url: string, headers: Record<string, string>) {
  const cpu = process.cpuUsage();
  const result = await autocannon(url, headers, ['-d', String(durationSeconds)]);
  const used = process.cpuUsage(cpu);
  // Server CPU per request: steadier than requests/s when other processes compete for the cores.
  const cpuMicros = (used.user + used.system) / Math.max(1, result.requests.total);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMicros,
    errors: result.non2xx + result.errors,
  };
}

type Result = Awaited<ReturnType<typeof load>>;
const best: Record<'bare Express' | 'Ballast router', Result | undefined> = { 'bare Express': undefined, 'Ballast router': undefined };
// The best round of each: highest throughput, and separately the lowest CPU per request.
const keep = (name: keyof typeof best, result: Result) => {
  const previous = best[name];
  if (previous === undefined) best[name] = result;
  else best[name] = { ...(result.rps > previous.rps ? result : previous), cpuMicros: Math.min(result.cpuMicros, previous.cpuMicros) };
};

// Warm both paths (JIT, batcher) before measuring.
await autocannon(servers.bare.url, {}, ['-a', '500']);
await autocannon(servers.ballast.url, { authorization: `Bearer ${key}` }, ['-a', '500']);

for (let round = 0; round < rounds; round++) {
  keep('bare Express', await load(servers.bare.url, {}));
  // Instrumentation subscribes process-wide, so it is on only while the Ballast router runs.
  const telemetry = instrument();
  keep('Ballast router', await load(servers.ballast.url, { authorization: `Bearer ${key}` }));
  telemetry.shutdown();
}

await servers.bare.close();
await servers.ballast.close();
await router.shutdown({ closeModels: false });
await onnx.close();

const bareResult = best['bare Express'] as Result;
const ballastResult = best['Ballast router'] as Result;
console.log(
  `\nHTTP, single-row v2 infer, ${connections} connections, ${durationSeconds}s × ${rounds} round(s)${smoke ? ' (smoke)' : ''}, best round each`,
);
table(
  ['server', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs/request', 'errors'],
  [
    ['bare Express', bareResult.rps, bareResult.p50, bareResult.p99, bareResult.cpuMicros, bareResult.errors],
    ['Ballast router', ballastResult.rps, ballastResult.p50, ballastResult.p99, ballastResult.cpuMicros, ballastResult.errors],
  ],
);
const ratio = ballastResult.rps / bareResult.rps;
console.log(`\nBallast / bare throughput: ${(ratio * 100).toFixed(1)}% (goal: ≥ 85%)`);
console.log(
  `bare / Ballast server CPU per request: ${((bareResult.cpuMicros / ballastResult.cpuMicros) * 100).toFixed(1)}% (the throughput ratio a CPU-bound server would see)`,
);
if (bareResult.errors > 0 || ballastResult.errors > 0) {
  console.error('some requests failed: the numbers are not comparable');
  process.exit(1);
}
