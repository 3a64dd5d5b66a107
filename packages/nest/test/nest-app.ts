import 'reflect-metadata';
import type { Model } from '@ballast/core';
import type { Guard } from '@ballast/guard';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BallastModels, BallastModule } from '../src/index.js';

/**
 * A Nest application serving `models` over v2 on 127.0.0.1, as the shared HTTP suites start it.
 * Nest keeps serving while the application begins to close; closing the models is the point where
 * new calls answer 503 (the server keeps its socket until app.close()), so that is `drain`.
 */
export async function startNestApp(models: readonly Model[], options: { guard?: Guard | undefined; rawBody?: boolean } = {}) {
  const { guard, rawBody = false } = options;
  @Module({ imports: [BallastModule.forRoot({ models: [...models], v2: true, ...(guard === undefined ? {} : { guard }) })] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false, rawBody });
  await app.listen(0, '127.0.0.1');
  return {
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    drain: async () => {
      void app.get(BallastModels).close(0);
    },
    close: () => app.close(),
  };
}
