import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

/** Starts `app` on 127.0.0.1 on a free port; returns its base URL and a closer. Test helper. */
export async function listen(app: Express): Promise<{ url: string; server: import('node:http').Server; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
