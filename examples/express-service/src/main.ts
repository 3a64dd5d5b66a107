/**
 * Runs the service: `pnpm start` (PORT, default 8080). `--smoke` starts it on a free port, sends
 * a v2 request and an app-route request, prints the answers and stops it (exit 0 when all went well).
 */
import type { AddressInfo } from 'node:net';
import { createService } from './app.js';

const smoke = process.argv.includes('--smoke');
const service = await createService();
const server = service.app.listen(smoke ? 0 : Number(process.env.PORT ?? 8080), '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`listening on ${url}`);
console.log(`api key: ${service.key}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: draining requests, then closing models`);
  await service.shutdown(server);
  console.log('stopped');
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));

if (smoke) {
  const headers = { authorization: `Bearer ${service.key}`, 'content-type': 'application/json' };
  const v2 = await fetch(`${url}/v2/models/risk/infer`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      id: 'smoke-1',
      inputs: [{ name: 'features', shape: [2, 8], datatype: 'FP32', data: [0, 1, 2, 3, 4, 5, 6, 7, 1, 1, 1, 1, 1, 1, 1, 1] }],
    }),
  });
  console.log(`POST /v2/models/risk/infer -> ${v2.status} ${await v2.text()}`);
  const score = await fetch(`${url}/score`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ customerEmail: 'jane@example.com', features: [0, 1, 2, 3, 4, 5, 6, 7] }),
  });
  console.log(`POST /score -> ${score.status} ${await score.text()}`);
  const denied = await fetch(`${url}/score`, { method: 'POST', body: '{}' });
  console.log(`POST /score without a key -> ${denied.status}`);
  await stop('smoke');
  process.exitCode = v2.status === 200 && score.status === 200 && denied.status === 401 ? 0 : 1;
}
