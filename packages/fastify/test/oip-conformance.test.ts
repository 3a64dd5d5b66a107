import Fastify from 'fastify';
import { oipConformance } from '../../serving/test/oip-conformance.js';
import { ballastFastify } from '../src/index.js';

oipConformance('fastify', async (models) => {
  const plugin = ballastFastify({ models });
  const app = Fastify();
  await app.register(plugin);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    drain: async () => {
      void plugin.shutdown({ closeModels: false });
    },
    close: () => app.close(),
  };
});
