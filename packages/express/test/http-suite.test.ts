import type { AddressInfo } from 'node:net';
import express from 'express';
import { httpSuite } from '../../serving/test/http-suite.js';
import { ballastRouter } from '../src/index.js';

httpSuite('express', async (models, { guard }) => {
  const router = ballastRouter({ models, ...(guard === undefined ? {} : { guard }) });
  const app = express();
  app.use(router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    drain: async () => {
      void router.shutdown({ closeModels: false });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
