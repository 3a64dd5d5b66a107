/**
 * What the Ballast HTTP layer costs over a hand-written Express route, on the same model.
 *
 *   bare Express     express.json() and a handler that calls the model and answers v2 JSON
 *   Ballast router   ballastRouter(): API-key auth (HMAC), authorization, a per-principal rate limit,
 *                    v2 validation (zod) + input ranges, request ids, audit off, and
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

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { defineModel } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { instrument } from '@ballast/otel';
import { size, smoke, table } from './_harness.js';

// The bench workspace has no type packages for autocannon and express: load them untyped and
// describe the few members used here.
interface LoadResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<LoadResult>;
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
const autocannon = require('autocannon') as Autocannon;
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
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration: durationSeconds,
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors };
}

type Result = Awaited<ReturnType<typeof load>>;
const best: Record<'bare Express' | 'Ballast router', Result | undefined> = { 'bare Express': undefined, 'Ballast router': undefined };
const keep = (name: keyof typeof best, result: Result) => {
  if (best[name] === undefined || result.rps > (best[name] as Result).rps) best[name] = result;
};

// Warm both paths (JIT, batcher) before measuring.
await autocannon({
  url: servers.bare.url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
  amount: 500,
  connections,
});
await autocannon({
  url: servers.ballast.url,
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body,
  amount: 500,
  connections,
});

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
  ['server', 'requests/s', 'p50 ms', 'p99 ms', 'errors'],
  [
    ['bare Express', bareResult.rps, bareResult.p50, bareResult.p99, bareResult.errors],
    ['Ballast router', ballastResult.rps, ballastResult.p50, ballastResult.p99, ballastResult.errors],
  ],
);
const ratio = ballastResult.rps / bareResult.rps;
console.log(`\nBallast / bare throughput: ${(ratio * 100).toFixed(1)}% (goal: ≥ 85%)`);
if (bareResult.errors > 0 || ballastResult.errors > 0) {
  console.error('some requests failed: the numbers are not comparable');
  process.exit(1);
}
