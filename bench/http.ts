/**
 * What each Ballast HTTP adapter costs over its bare framework, on the same model and request.
 *
 *   bare Express        express.json() and a handler that calls the model and answers v2 JSON
 *   Ballast Express     ballastRouter()
 *   bare Fastify        a Fastify route (its own JSON parser) doing the same
 *   checked Fastify     a Fastify route doing by hand, for this one request shape, the checks
 *                       Ballast makes (API key from a map of verified keys, role, token bucket,
 *                       v2 envelope and input range, request id, deadline): the minimal
 *                       reference for Ballast's work, measured with the Fastify pair
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

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { instrument } from '@ballast/otel';
import { size, smoke, table } from './_harness.js';
import { closeHttpModel, startHttpServer } from './_http-servers.js';

// autocannon runs as a child process (its CLI, `--json`), so the load generator does not share
// this process's event loop and the CPU measured here is the servers' alone.
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
const require = createRequire(import.meta.url);
const autocannonCli = require.resolve('autocannon/autocannon.js');
const run = promisify(execFile);

const rounds = size(3, 1);
const durationSeconds = size(5, 1);
const connections = 32;

async function autocannon(url: string, body: string, headers: Record<string, string>, limit: string[]): Promise<LoadResult> {
  const headerArgs = Object.entries({ 'content-type': 'application/json', ...headers }).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const { stdout } = await run(
    process.execPath,
    [autocannonCli, '-c', String(connections), ...limit, '-m', 'POST', ...headerArgs, '-b', body, '--json', url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as LoadResult;
}

type Started = Awaited<ReturnType<typeof startHttpServer>>;
const pairs: { framework: string; bare: Started; reference?: Started; ballast: Started }[] = [];
for (const framework of ['Express', 'Fastify', 'Nest']) {
  const lower = framework.toLowerCase();
  pairs.push({ framework, bare: await startHttpServer(`bare-${lower}`), ballast: await startHttpServer(lower) });
}
// The hand-written reference of Ballast's checks, for the framework with the cheapest request.
(pairs[1] as (typeof pairs)[number]).reference = await startHttpServer('checked-fastify');

async function load(server: { url: string; body: string; headers: Record<string, string> }) {
  const cpu = process.cpuUsage();
  const result = await autocannon(server.url, server.body, server.headers, ['-d', String(durationSeconds)]);
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
  for (const server of [pair.bare, pair.reference, pair.ballast]) {
    if (server !== undefined) await autocannon(server.url, server.body, server.headers, ['-a', '500']);
  }
}

const rows: (string | number)[][] = [];
const ratios: Record<string, number[]> = {};
const cpuRatios: Record<string, number[]> = {};
// Per round: the reference / bare, and Ballast / the reference (throughput).
const referenceRatios: { ofBare: number[]; ballastOf: number[] } = { ofBare: [], ballastOf: [] };
let failed = false;
for (let round = 1; round <= rounds; round++) {
  for (const pair of pairs) {
    // The machine's 1-minute load average as the pair starts (other processes share the cores).
    const load1 = loadavg()[0] ?? 0;
    const bareResult = await load(pair.bare);
    // Instrumentation subscribes process-wide, so it is on only while a Ballast server runs.
    const referenceResult = pair.reference === undefined ? undefined : await load(pair.reference);
    const telemetry = instrument();
    const ballastResult = await load(pair.ballast);
    telemetry.shutdown();
    if (bareResult.errors > 0 || ballastResult.errors > 0 || (referenceResult?.errors ?? 0) > 0) failed = true;
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
      load1.toFixed(2),
      '',
    ]);
    if (referenceResult !== undefined) {
      referenceRatios.ofBare.push(referenceResult.rps / bareResult.rps);
      referenceRatios.ballastOf.push(ballastResult.rps / referenceResult.rps);
      rows.push([
        String(round),
        `checked ${pair.framework}`,
        referenceResult.rps,
        referenceResult.p50,
        referenceResult.p99,
        referenceResult.cpuMicros,
        referenceResult.errors,
        load1.toFixed(2),
        `(${((referenceResult.rps / bareResult.rps) * 100).toFixed(1)}%)`,
      ]);
    }
    rows.push([
      String(round),
      `Ballast ${pair.framework}`,
      ballastResult.rps,
      ballastResult.p50,
      ballastResult.p99,
      ballastResult.cpuMicros,
      ballastResult.errors,
      load1.toFixed(2),
      `${(ratio * 100).toFixed(1)}%`,
    ]);
  }
}

for (const pair of pairs) {
  await pair.bare.close();
  await pair.reference?.close();
  await pair.ballast.close();
}
await closeHttpModel();

console.log(`\nHTTP, single-row v2 infer, ${connections} connections, ${durationSeconds}s × ${rounds} round(s)${smoke ? ' (smoke)' : ''}`);
table(['round', 'server', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs/request', 'errors', 'load 1m', 'Ballast (checked) / bare'], rows);
console.log('');
for (const [framework, list] of Object.entries(ratios)) {
  const met = list.filter((ratio) => ratio >= 0.85).length;
  console.log(
    `${framework}: Ballast / bare throughput per round ${list.map((ratio) => `${(ratio * 100).toFixed(1)}%`).join(', ')}; ≥ 85 % in ${met} of ${list.length} (goal: every round); bare / Ballast CPU per request ${(cpuRatios[framework] ?? []).map((ratio) => `${(ratio * 100).toFixed(1)}%`).join(', ')}`,
  );
}
const percents = (list: number[]) => list.map((ratio) => `${(ratio * 100).toFixed(1)}%`).join(', ');
console.log(
  `Fastify, the hand-checked reference: reference / bare ${percents(referenceRatios.ofBare)}; Ballast / reference ${percents(referenceRatios.ballastOf)}`,
);
if (failed) {
  console.error('some requests failed: the numbers are not comparable');
  process.exit(1);
}
