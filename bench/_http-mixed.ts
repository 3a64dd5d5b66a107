/**
 * One server of bench/http.ts's Fastify process, after the warm-up that process gives it: bare
 * Fastify, the checked reference and Ballast's plugin start in one process and take one-second
 * slices in turn (instrumentation on for the plugin's), then one of them takes three 3-second
 * loads alone, each printed with its requests/s and server CPU per request. The code shared by
 * the three (Node's HTTP and streams, Fastify, core's call scope) is compiled with what all three
 * gave it, as in the benchmark, unlike bench/_http-focus.ts's process of one server. For a
 * native profile, attach `perf record -p <pid>` once it prints `READY`.
 *
 *   node --perf-basic-prof --import tsx/esm bench/_http-mixed.ts [ballast|bare|checked] [solo]
 * `solo`: the same loads without the other servers' slices (only their start).
 */
import { instrument } from '@ballast/otel';
import { autocannon } from './_http-request.js';
import { closeHttpModel, startHttpServer } from './_http-servers.js';

const servers = {
  bare: await startHttpServer('bare-fastify'),
  checked: await startHttpServer('checked-fastify'),
  ballast: await startHttpServer('fastify'),
};
type Role = keyof typeof servers;
const target = (process.argv[2] ?? 'ballast') as Role;
if (!(target in servers)) throw new Error(`unknown server "${target}" (ballast, bare or checked)`);

const slice = async (role: Role, limit: string[]) => {
  const telemetry = role === 'ballast' ? instrument() : undefined;
  const cpu = process.cpuUsage();
  const result = await autocannon(servers[role], limit);
  const used = process.cpuUsage(cpu);
  telemetry?.shutdown();
  return `${role}: ${Math.round(result.requests.total / result.duration)} requests/s, ${((used.user + used.system) / result.requests.total).toFixed(1)} µs CPU/request`;
};

if (process.argv[3] === 'solo') await slice(target, ['-a', '2000']);
else {
  for (const role of ['bare', 'checked', 'ballast'] as const) await slice(role, ['-a', '2000']);
  for (let round = 0; round < 4; round++) {
    for (const role of ['bare', 'checked', 'ballast', 'ballast', 'checked', 'bare'] as const) await slice(role, ['-d', '1']);
  }
}
console.log(`READY (pid ${process.pid})`);
for (let i = 0; i < 3; i++) console.log(await slice(target, ['-d', '3']));
for (const server of Object.values(servers)) await server.close();
await closeHttpModel();
