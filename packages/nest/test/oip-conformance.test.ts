import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { oipConformance } from '../../serving/test/oip-conformance.js';
import { BallastModels, BallastModule } from '../src/index.js';

// `rawBody: true` keeps the bytes of JSON bodies, so 64-bit integers beyond 2^53 parse exactly.
oipConformance('nest', async (models) => {
  @Module({ imports: [BallastModule.forRoot({ models: [...models], v2: true })] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false, rawBody: true });
  await app.listen(0, '127.0.0.1');
  return {
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    drain: async () => {
      void app.get(BallastModels).close(0);
    },
    close: () => app.close(),
  };
});
