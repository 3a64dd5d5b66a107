/**
 * What each Ballast HTTP adapter costs over its bare framework, on the same model and request.
 *
 *   bare Express        express.json() and a handler that calls the model and answers v2 JSON
 *   Ballast Express     ballastRouter()
 *   bare Fastify        a Fastify route (its own JSON parser) doing the same
 *   Ballast Fastify     ballastFastify()
 *   bare Nest           a Nest controller on platform-express (its body parser) doing the same
 *   Ballast Nest        BallastModule.forRoot({ v2: true })
 *
 * Every Ballast server runs the full serving core: API-key auth (HMAC), authorization, a
 * per-principal rate limit, v2 validation + input ranges, request ids, audit off, and
 * @ballast/otel instrument() with no SDK (an app without OpenTelemetry).
 *
 * The model is an in-process ONNX MLP (16→64→4) with micro-batching; all servers run in this
 * process and call the same model instance, one at a time. autocannon drives each with the same
 * single-row v2 request; within a round each pair runs back to back (bare first), so load from
 * other processes hits both alike. Every round's ratio is printed; the goal is each adapter ≥ 85 %
 * of its bare framework's throughput in every round.
 *
 *   pnpm bench http            full run (3 rounds)
 *   pnpm bench http --smoke    one short round each
 */

import 'reflect-metadata';
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { defineModel } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { ballastFastify } from '@ballast/fastify';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { BallastModule } from '@ballast/nest';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { instrument } from '@ballast/otel';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Fastify from 'fastify';
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

// The hand-written handler: what an app would write without Ballast (the same in every framework).
async function bareInfer(body: JsonRequest['body']): Promise<unknown> {
  const tensor = body.inputs[0];
  const out = (await model.infer({ input: { data: Float32Array.from(tensor?.data ?? []), dims: [16] } })) as unknown as Record<
    string,
    { data: Float32Array; dims: number[] }
  >;
  const output = out.output as { data: Float32Array; dims: number[] };
  return {
    model_name: 'mlp',
    id: body.id,
    outputs: [{ name: 'output', shape: [1, ...output.dims], datatype: 'FP32', data: Array.from(output.data) }],
  };
}

const bare = express();
bare.post('/v2/models/mlp/infer', express.json(), async (request: JsonRequest, res: JsonResponse) => {
  try {
    res.json(await bareInfer(request.body));
  } catch (error) {
    res.status(500).json({ error: String(error) });
  }
});

const bareFastify = Fastify();
bareFastify.post('/v2/models/mlp/infer', async (request) => bareInfer(request.body as JsonRequest['body']));

@Controller('v2/models/mlp')
class BareController {
  @Post('infer')
  @HttpCode(200)
  infer(@Body() body: JsonRequest['body']): Promise<unknown> {
    return bareInfer(body);
  }
}
@Module({ controllers: [BareController] })
class BareNestModule {}

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

const fastifyPlugin = ballastFastify({ models: [model], guard, timeoutMs: 5_000 });
const ballastFastifyApp = Fastify();
await ballastFastifyApp.register(fastifyPlugin);

@Module({ imports: [BallastModule.forRoot({ models: [model], guard, v2: true, timeoutMs: 5_000 })] })
class BallastNestModule {}

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

interface Started {
  url: string;
  close: () => Promise<void>;
}
async function startFastify(app: ReturnType<typeof Fastify>): Promise<Started> {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `${base}/v2/models/mlp/infer`, close: () => app.close() };
}
async function startNest(module: unknown): Promise<Started> {
  const app = await NestFactory.create(module as never, { logger: false });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { url: `${base}/v2/models/mlp/infer`, close: () => app.close() };
}

const pairs = [
  { framework: 'Express', bare: await start(bare), ballast: await start(ballast) },
  { framework: 'Fastify', bare: await startFastify(bareFastify), ballast: await startFastify(ballastFastifyApp) },
  { framework: 'Nest', bare: await startNest(BareNestModule), ballast: await startNest(BallastNestModule) },
];
const auth = { authorization: `Bearer ${key}` };

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

// Warm every path (JIT, batcher) before measuring.
for (const pair of pairs) {
  await autocannon(pair.bare.url, {}, ['-a', '500']);
  await autocannon(pair.ballast.url, auth, ['-a', '500']);
}

const rows: (string | number)[][] = [];
const ratios: Record<string, number[]> = {};
const cpuRatios: Record<string, number[]> = {};
let failed = false;
for (let round = 1; round <= rounds; round++) {
  for (const pair of pairs) {
    const bareResult = await load(pair.bare.url, {});
    // Instrumentation subscribes process-wide, so it is on only while a Ballast server runs.
    const telemetry = instrument();
    const ballastResult = await load(pair.ballast.url, auth);
    telemetry.shutdown();
    if (bareResult.errors > 0 || ballastResult.errors > 0) failed = true;
    const ratio = ballastResult.rps / bareResult.rps;
    (ratios[pair.framework] ??= []).push(ratio);
    // Server CPU per request, bare / Ballast: the throughput ratio a CPU-bound server would see.
    (cpuRatios[pair.framework] ??= []).push(bareResult.cpuMicros / ballastResult.cpuMicros);
    rows.push([
      String(round),
      `bare ${pair.framework}`,
      bareResult.rps,
      bareResult.p50,
      bareResult.p99,
      bareResult.cpuMicros,
      bareResult.errors,
      '',
    ]);
    rows.push([
      String(round),
      `Ballast ${pair.framework}`,
      ballastResult.rps,
      ballastResult.p50,
      ballastResult.p99,
      ballastResult.cpuMicros,
      ballastResult.errors,
      `${(ratio * 100).toFixed(1)}%`,
    ]);
  }
}

for (const pair of pairs) {
  await pair.bare.close();
  await pair.ballast.close();
}
await router.shutdown({ closeModels: false });
await fastifyPlugin.shutdown({ closeModels: false });
await onnx.close();

console.log(`\nHTTP, single-row v2 infer, ${connections} connections, ${durationSeconds}s × ${rounds} round(s)${smoke ? ' (smoke)' : ''}`);
table(['round', 'server', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs/request', 'errors', 'Ballast / bare'], rows);
console.log('');
for (const [framework, list] of Object.entries(ratios)) {
  const met = list.filter((ratio) => ratio >= 0.85).length;
  console.log(
    `${framework}: Ballast / bare throughput per round ${list.map((ratio) => `${(ratio * 100).toFixed(1)}%`).join(', ')}; ≥ 85 % in ${met} of ${list.length} (goal: every round); bare / Ballast CPU per request ${(cpuRatios[framework] ?? []).map((ratio) => `${(ratio * 100).toFixed(1)}%`).join(', ')}`,
  );
}
if (failed) {
  console.error('some requests failed: the numbers are not comparable');
  process.exit(1);
}
