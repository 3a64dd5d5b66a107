import Fastify from 'fastify';
import { httpSuite } from '../../serving/test/http-suite.js';
import { ballastFastify } from '../src/index.js';

httpSuite('fastify', async (models, { guard }) => {
  const plugin = ballastFastify({ models, ...(guard === undefined ? {} : { guard }) });
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
