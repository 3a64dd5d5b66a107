import express from 'express';
import { oipConformance } from '../../serving/test/oip-conformance.js';
import { ballastRouter } from '../src/index.js';

oipConformance('express', async (models) => {
  const router = ballastRouter({ models });
  const app = express();
  app.use(router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    drain: async () => {
      void router.shutdown({ closeModels: false });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
