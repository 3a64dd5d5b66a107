/**
 * A small round-robin HTTP proxy on 127.0.0.1 for the demo's scale-out part: request n goes to
 * replica n mod N, and the answer carries `x-served-by: replica-<i>` so the traffic shows which
 * replica served it. A load balancer in front of a real deployment does this job.
 */
import { Agent, createServer, request, type Server } from 'node:http';

/** A proxy started by {@link startRoundRobinProxy}. */
export interface RoundRobinProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the proxy over `upstreams` (base URLs such as `http://127.0.0.1:3001`) on a free port.
 *
 * @example
 * const proxy = await startRoundRobinProxy([replicaA.url, replicaB.url]);
 */
export async function startRoundRobinProxy(upstreams: readonly string[]): Promise<RoundRobinProxy> {
  const targets = upstreams.map((url) => new URL(url));
  const agent = new Agent({ keepAlive: true });
  let next = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const index = next++ % targets.length;
    const target = targets[index] as URL;
    const forward = request(
      { agent, host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-served-by': `replica-${index + 1}` });
        answer.pipe(outgoing);
      },
    );
    forward.on('error', (error) => {
      if (outgoing.headersSent) {
        outgoing.destroy(error);
        return;
      }
      outgoing.writeHead(502, { 'content-type': 'application/json', 'x-served-by': `replica-${index + 1}` });
      outgoing.end(JSON.stringify({ error: { code: 'UPSTREAM', message: `replica-${index + 1} did not answer: ${error.message}` } }));
    });
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
