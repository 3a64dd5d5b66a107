/**
 * One HTTP adapter (or its bare framework) under autocannon, for profiling the request path:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx/esm bench/_http-focus.ts <server> [seconds]
 * `<server>`: `express`, `fastify`, `nest` (Ballast), `bare-express`, `bare-fastify`, `bare-nest`, or
 * `checked-fastify` (the hand-written reference of Ballast's checks).
 * The servers are those of bench/http.ts (the same guard, model, request and telemetry): the
 * profile is the server's alone, autocannon runs as a child process. Prints requests/s and the
 * server's CPU per request; sum the profile's self time by function (`nodes`, `samples`,
 * `timeDeltas`) to see where a request's CPU goes. `alloc` (after the seconds) also prints the bytes
 * each request allocates in the server's process, in all and by function (bench/_alloc.ts; the
 * CPU figure is then not comparable); `lines` with it adds each function's first line (run
 * without `--conditions=source`, over the built packages, for real line numbers).
 */
import 'reflect-metadata';
import { instrument } from '@ballast/otel';
import { sampleAllocations } from './_alloc.js';
import { autocannon } from './_http-request.js';
import { startHttpServer } from './_http-servers.js';

const which = process.argv[2] ?? 'fastify';
const seconds = Number(process.argv[3] ?? 5);

const server = await startHttpServer(which);
const telemetry = which.startsWith('bare') || process.env.BALLAST_FOCUS_NO_OTEL === '1' ? undefined : instrument();
await autocannon(server, ['-a', '2000']);
const stopSampling = process.argv.includes('alloc') ? await sampleAllocations({ lines: process.argv.includes('lines') }) : undefined;
const cpu = process.cpuUsage();
const result = await autocannon(server, ['-d', String(seconds)]);
const used = process.cpuUsage(cpu);
await stopSampling?.(result.requests.total);
console.log(
  `${which}: ${result.requests.average} requests/s, ${((used.user + used.system) / result.requests.total).toFixed(1)} µs CPU/request, ${result.non2xx} non-2xx`,
);
telemetry?.shutdown();
await server.close();
