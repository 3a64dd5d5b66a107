import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { httpSuite } from '../../serving/test/http-suite.js';
import { BallastModels, BallastModule } from '../src/index.js';

httpSuite('nest', async (models, { guard }) => {
  @Module({ imports: [BallastModule.forRoot({ models: [...models], v2: true, ...(guard === undefined ? {} : { guard }) })] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  return {
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    // Nest keeps serving while the application begins to close; closing the models is the point
    // where new calls answer 503 (the server keeps its socket until app.close()).
    drain: async () => {
      void app.get(BallastModels).close(0);
    },
    close: () => app.close(),
  };
});
