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
 * Each framework runs in a process of its own, as an app would: its bare server, its Ballast
 * server (and, for Fastify, the checked reference) call one in-process ONNX MLP (16→64→4) with
 * micro-batching. autocannon (a child process, so the CPU measured is the servers' alone) drives
 * each with the same single-row v2 request (its API key header too, which a bare server ignores).
 * A round gives each server the same time in short slices taken in turn (the order reversed every
 * slice), so load from other processes on this shared machine falls on all of them alike rather
 * than on whichever ran during a spike; a round's ratio is its requests served, Ballast over bare.
 * Every round's ratio is printed; the goal is each adapter ≥ 85 % of its bare framework's
 * throughput in every round.
 *
 *   pnpm bench http            full run (3 rounds of 6 one-second slices per server)
 *   pnpm bench http --smoke    one short round each
 */

import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { instrument } from '@ballast/otel';
import { percentile, size, smoke, table } from './_harness.js';
import { autocannon, CONNECTIONS } from './_http-request.js';
import { closeHttpModel, type StartedServer, startHttpServer } from './_http-servers.js';

const run = promisify(execFile);

const rounds = size(3, 1);
const slices = size(6, 1);
const sliceSeconds = 1;
const FRAMEWORKS = ['Express', 'Fastify', 'Nest'] as const;

/** One server's share of a round: its slices added up. */
interface Measured {
  /** Requests answered per second of load. */
  rps: number;
  /** Median of the slices' p50 latencies, ms. */
  p50: number;
  /** Highest of the slices' p99 latencies, ms. */
  p99: number;
  /** Server CPU per request, µs. */
  cpuMicros: number;
  errors: number;
}

/** What a framework's process reports for each round. */
interface RoundReport {
  load1: number;
  bare: Measured;
  reference?: Measured;
  ballast: Measured;
}

// --- one framework, in its own process --------------------------------------------------------
async function measureFramework(framework: string): Promise<RoundReport[]> {
  const lower = framework.toLowerCase();
  const servers: { role: 'bare' | 'reference' | 'ballast'; server: StartedServer }[] = [
    { role: 'bare', server: await startHttpServer(`bare-${lower}`) },
  ];
  // The hand-written reference of Ballast's checks, with the framework of the cheapest request.
  if (framework === 'Fastify') servers.push({ role: 'reference', server: await startHttpServer('checked-fastify') });
  servers.push({ role: 'ballast', server: await startHttpServer(lower) });

  // Instrumentation subscribes process-wide, so it is on only while the Ballast server runs.
  const slice = async (role: (typeof servers)[number]['role'], server: StartedServer, limit = ['-d', String(sliceSeconds)]) => {
    const telemetry = role === 'ballast' ? instrument() : undefined;
    const cpu = process.cpuUsage();
    const result = await autocannon(server, limit);
    const used = process.cpuUsage(cpu);
    telemetry?.shutdown();
    return { result, cpu: used.user + used.system };
  };
  // Warm every path (JIT, batcher) before measuring.
  for (const { role, server } of servers) await slice(role, server, ['-a', '2000']);

  const reports: RoundReport[] = [];
  for (let round = 0; round < rounds; round++) {
    const load1 = loadavg()[0] ?? 0;
    const sums = new Map(servers.map(({ role }) => [role, { requests: 0, seconds: 0, cpu: 0, p50: [] as number[], p99: 0, errors: 0 }]));
    for (let s = 0; s < slices; s++) {
      const order = s % 2 === 0 ? servers : [...servers].reverse();
      for (const { role, server } of order) {
        const { result, cpu } = await slice(role, server);
        const sum = sums.get(role) as NonNullable<ReturnType<typeof sums.get>>;
        sum.requests += result.requests.total;
        sum.seconds += result.duration;
        sum.cpu += cpu;
        sum.p50.push(result.latency.p50);
        sum.p99 = Math.max(sum.p99, result.latency.p99);
        sum.errors += result.non2xx + result.errors;
      }
    }
    const measured = (role: (typeof servers)[number]['role']): Measured => {
      const sum = sums.get(role) as NonNullable<ReturnType<typeof sums.get>>;
      return {
        rps: sum.requests / sum.seconds,
        p50: percentile(sum.p50, 50),
        p99: sum.p99,
        cpuMicros: sum.cpu / Math.max(1, sum.requests),
        errors: sum.errors,
      };
    };
    const report: RoundReport = { load1, bare: measured('bare'), ballast: measured('ballast') };
    if (sums.has('reference')) report.reference = measured('reference');
    reports.push(report);
  }
  for (const { server } of servers) await server.close();
  await closeHttpModel();
  return reports;
}

const only = process.argv.indexOf('--framework');
if (only !== -1) {
  const reports = await measureFramework(process.argv[only + 1] as string);
  // The parent reads the last line.
  console.log(JSON.stringify(reports));
  process.exit(0);
}

// --- the parent: one process per framework, then the table ------------------------------------
const byFramework: Record<string, RoundReport[]> = {};
for (const framework of FRAMEWORKS) {
  const { stdout } = await run(process.execPath, [...process.execArgv, process.argv[1] as string, '--framework', framework], {
    maxBuffer: 64 * 1024 * 1024,
    env: process.env,
  });
  byFramework[framework] = JSON.parse(stdout.trim().split('\n').at(-1) as string) as RoundReport[];
}

const rows: (string | number)[][] = [];
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const row = (round: number, name: string, m: Measured, load1: number, ratio: string): (string | number)[] => [
  String(round),
  name,
  m.rps,
  m.p50,
  m.p99,
  m.cpuMicros,
  m.errors,
  load1.toFixed(2),
  ratio,
];
let failed = false;
for (let round = 0; round < rounds; round++) {
  for (const framework of FRAMEWORKS) {
    const report = byFramework[framework]?.[round] as RoundReport;
    const { bare, reference, ballast, load1 } = report;
    if (bare.errors > 0 || ballast.errors > 0 || (reference?.errors ?? 0) > 0) failed = true;
    rows.push(row(round + 1, `bare ${framework}`, bare, load1, ''));
    if (reference !== undefined)
      rows.push(row(round + 1, `checked ${framework}`, reference, load1, `(${percent(reference.rps / bare.rps)})`));
    rows.push(row(round + 1, `Ballast ${framework}`, ballast, load1, percent(ballast.rps / bare.rps)));
  }
}

console.log(
  `\nHTTP, single-row v2 infer, ${CONNECTIONS} connections, ${rounds} round(s) of ${slices} × ${sliceSeconds}s per server${smoke ? ' (smoke)' : ''}`,
);
table(['round', 'server', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs/request', 'errors', 'load 1m', 'Ballast (checked) / bare'], rows);
console.log('');
for (const framework of FRAMEWORKS) {
  const reports = byFramework[framework] ?? [];
  const ratios = reports.map((r) => r.ballast.rps / r.bare.rps);
  const met = ratios.filter((ratio) => ratio >= 0.85).length;
  const cpu = reports.map((r) => r.bare.cpuMicros / r.ballast.cpuMicros);
  console.log(
    `${framework}: Ballast / bare throughput per round ${ratios.map(percent).join(', ')}; ≥ 85 % in ${met} of ${ratios.length} (goal: every round); bare / Ballast CPU per request ${cpu.map(percent).join(', ')}`,
  );
}
const fastify = byFramework.Fastify ?? [];
console.log(
  `Fastify, the hand-checked reference: reference / bare ${fastify.map((r) => percent((r.reference?.rps ?? 0) / r.bare.rps)).join(', ')}; Ballast / reference ${fastify.map((r) => percent(r.ballast.rps / (r.reference?.rps ?? 1))).join(', ')}`,
);
if (failed) {
  console.error('some requests failed: the numbers are not comparable');
  process.exit(1);
}
