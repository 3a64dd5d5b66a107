/**
 * One HTTP adapter (or its bare framework) under autocannon, for profiling the request path:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx/esm bench/_http-focus.ts <server> [seconds]
 * `<server>`: `express`, `fastify`, `nest` (Ballast) or `bare-express`, `bare-fastify`, `bare-nest`.
 * The servers are those of bench/http.ts (the same guard, model, request and telemetry): the
 * profile is the server's alone, autocannon runs as a child process. Prints requests/s and the
 * server's CPU per request; sum the profile's self time by function (`nodes`, `samples`,
 * `timeDeltas`) to see where a request's CPU goes.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { instrument } from '@ballast/otel';
import { startHttpServer } from './_http-servers.js';

const which = process.argv[2] ?? 'fastify';
const seconds = Number(process.argv[3] ?? 5);
const require = createRequire(import.meta.url);
const run = promisify(execFile);

const server = await startHttpServer(which);
const telemetry = which.startsWith('bare') || process.env.BALLAST_FOCUS_NO_OTEL === '1' ? undefined : instrument();
const args = (duration: string[]) => [
  require.resolve('autocannon/autocannon.js'),
  '-c',
  '32',
  ...duration,
  '-m',
  'POST',
  ...Object.entries({ 'content-type': 'application/json', ...server.headers }).flatMap(([k, v]) => ['-H', `${k}=${v}`]),
  '-b',
  server.body,
  '--json',
  server.url,
];
await run(process.execPath, args(['-a', '2000']), { maxBuffer: 64 << 20 });
const session = new Session(); session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.setSamplingInterval', { interval: 50 }); await session.post('Profiler.start');
const cpu = process.cpuUsage();
const { stdout } = await run(process.execPath, args(['-d', String(seconds)]), { maxBuffer: 64 << 20 });
const used = process.cpuUsage(cpu);
const { profile } = await session.post('Profiler.stop'); writeFileSync(`/tmp/prof-${which}.cpuprofile`, JSON.stringify(profile));
const result = JSON.parse(stdout) as { requests: { average: number; total: number }; non2xx: number };
console.log(
  `${which}: ${result.requests.average} requests/s, ${((used.user + used.system) / result.requests.total).toFixed(1)} µs CPU/request, ${result.non2xx} non-2xx total ${result.requests.total}`,
);
telemetry?.shutdown();
await server.close();
