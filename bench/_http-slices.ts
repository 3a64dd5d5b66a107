/**
 * Bare Fastify and Ballast's Fastify plugin slice by slice: the servers of bench/http.ts in one
 * process, one-second autocannon slices taken in turn (the order reversed every pair), each
 * slice's requests/s and server CPU per request printed with the pair's throughput ratio. Shows
 * how far single slices move on a shared machine, which bench/http.ts adds up into rounds.
 *
 *   node --conditions=source --import tsx/esm bench/_http-slices.ts [pairs]
 */
import { instrument } from '@ballast/otel';
import { autocannon } from './_http-request.js';
import { closeHttpModel, type StartedServer, startHttpServer } from './_http-servers.js';

const pairs = Number(process.argv[2] ?? 12);
const bare = await startHttpServer('bare-fastify');
const ballast = await startHttpServer('fastify');

// As bench/http.ts: telemetry (no SDK) is on while the Ballast server runs.
const slice = async (server: StartedServer, limit = ['-d', '1']) => {
  const telemetry = server === ballast ? instrument() : undefined;
  const cpu = process.cpuUsage();
  const result = await autocannon(server, limit);
  const used = process.cpuUsage(cpu);
  telemetry?.shutdown();
  return { rps: result.requests.total / result.duration, cpuMicros: (used.user + used.system) / result.requests.total };
};

await slice(bare, ['-a', '2000']);
await slice(ballast, ['-a', '2000']);
let bareTotal = 0;
let ballastTotal = 0;
for (let p = 0; p < pairs; p++) {
  const [first, second] = p % 2 === 0 ? [bare, ballast] : [ballast, bare];
  const a = await slice(first);
  const b = await slice(second);
  const [ours, theirs] = first === ballast ? [a, b] : [b, a];
  bareTotal += theirs.rps;
  ballastTotal += ours.rps;
  console.log(
    `${p}: bare ${Math.round(theirs.rps)}/s ${theirs.cpuMicros.toFixed(1)} µs | Ballast ${Math.round(ours.rps)}/s ${ours.cpuMicros.toFixed(1)} µs | ${((100 * ours.rps) / theirs.rps).toFixed(1)} %`,
  );
}
console.log(`all slices: Ballast / bare ${((100 * ballastTotal) / bareTotal).toFixed(1)} %`);
await bare.close();
await ballast.close();
await closeHttpModel();
