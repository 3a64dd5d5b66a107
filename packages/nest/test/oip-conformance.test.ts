import 'reflect-metadata';
import type { Model } from '@ballast/core';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { oipConformance } from '../../serving/test/oip-conformance.js';
import { BallastModels, BallastModule } from '../src/index.js';

// The serving core reads the v2 bodies itself (Nest's JSON parser passes the served routes by),
// so 64-bit integers beyond 2^53 parse exactly whether or not the application keeps raw bodies.
for (const rawBody of [false, true]) {
  oipConformance(`nest${rawBody ? ' (rawBody: true)' : ''}`, async (models: readonly Model[]) => {
    @Module({ imports: [BallastModule.forRoot({ models: [...models], v2: true })] })
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
  });
}
