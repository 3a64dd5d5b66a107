// docs/examples/client-remote.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, remoteModel } from '@ballast/client';
import { subscribe } from '@ballast/core';

// A stand-in model server on 127.0.0.1: Open Inference Protocol v2, busy on its first request.
let requests = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    if (++requests === 1) {
      res.writeHead(503, { 'retry-after': '0' }).end('warming up');
      return;
    }
    const { inputs } = JSON.parse(body) as { inputs: { name: string; shape: number[]; data: number[] }[] };
    const x = inputs[0]?.data ?? [];
    const sum = x.reduce((a, b) => a + b, 0);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        model_name: 'iris',
        outputs: [{ name: 'probabilities', shape: [1, 3], datatype: 'FP32', data: [0.1, 0.2, sum / 100] }],
      }),
    );
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// Telemetry adds headers here (W3C traceparent); any subscriber may.
const stop = subscribe('httpRequest', (e) => {
  e.headers['x-request-source'] = 'docs-example';
  console.log(`${e.method} ${e.url.replace(url, '')}`);
});

const iris = remoteModel({ url, protocol: 'open-inference-v2', name: 'iris' });
const client = createClient({ model: iris, timeoutMs: 1_000, retry: { maxAttempts: 3, baseDelayMs: 5 } });
// The input is input name -> per-example value; the output has the batch dimension removed.
const out = await client.infer({ features: new Float32Array([5.1, 3.5, 1.4, 0.2]) });
console.log(out.probabilities);
console.log(`retries after 503 + Retry-After: ${client.stats().retry?.retries}`);

stop();
server.close();
