import 'reflect-metadata';
import { BallastError, defineModel, type Model, signalOf } from '@ballast/core';
import { Controller, Get, Inject, Injectable, Module, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { BallastAuthGuard } from './auth-guard.js';
import { BallastExceptionFilter } from './exception-filter.js';
import { BallastContextInterceptor } from './interceptor.js';
import { BallastModels } from './models.js';
import { BallastModule } from './module.js';
import { InjectModel } from './tokens.js';

async function start(module: object) {
  const app = await NestFactory.create(module as never, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  return { app, base: await app.getUrl() };
}

describe('shutdown', () => {
  it('lets in-flight requests finish, then closes every model once', async () => {
    const events: string[] = [];
    const slow = defineModel<string, string>({
      name: 'slow',
      infer: async (input) => {
        events.push('infer-start');
        await new Promise((resolve) => setTimeout(resolve, 150));
        events.push('infer-end');
        return input.toUpperCase();
      },
      close: async () => {
        events.push('close-slow');
      },
    });
    const failing = defineModel<string, string>({
      name: 'failing',
      infer: async (input) => input,
      close: async () => {
        events.push('close-failing');
        throw new Error('disk gone');
      },
    });
    @Controller('run')
    @UseInterceptors(BallastContextInterceptor)
    class RunController {
      constructor(@InjectModel('slow') private readonly model: Model<string, string>) {}
      @Get()
      async run() {
        return { value: await this.model.infer('done') };
      }
    }
    @Module({ imports: [BallastModule.forRoot({ models: [slow, failing] })], controllers: [RunController] })
    class AppModule {}
    const { app, base } = await start(AppModule);
    const pending = fetch(`${base}/run`).then(async (response) => ({ status: response.status, body: await response.json() }));
    while (!events.includes('infer-start')) await new Promise((resolve) => setTimeout(resolve, 5));
    await app.close();
    expect(await pending).toEqual({ status: 200, body: { value: 'DONE' } });
    expect(events).toEqual(['infer-start', 'infer-end', 'close-slow', 'close-failing']);
  });

  it('refuses calls once closed', async () => {
    const models = new BallastModels([defineModel({ name: 'm', infer: async () => 1 })]);
    await models.close();
    await expect(models.get('m').infer(undefined)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(await models.ready()).toBe(false);
  });
});

describe('configuration', () => {
  it('builds from forRootAsync with injected configuration and named models', async () => {
    const CONFIG = Symbol('config');
    @Module({ providers: [{ provide: CONFIG, useValue: { factor: 3 } }], exports: [CONFIG] })
    class ConfigModule {}
    @Injectable()
    class Scaler {
      constructor(@InjectModel('scale') readonly model: Model<number, number>) {}
    }
    @Controller('scale')
    class ScaleController {
      constructor(@Inject(Scaler) private readonly scaler: Scaler) {}
      @Get()
      async get() {
        return { value: await this.scaler.model.infer(14) };
      }
    }
    @Module({
      imports: [
        BallastModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          modelNames: ['scale'],
          useFactory: async (config: { factor: number }) => ({
            models: [defineModel({ name: 'scale', infer: async (x: number) => x * config.factor })],
          }),
        }),
      ],
      controllers: [ScaleController],
      providers: [Scaler],
    })
    class AppModule {}
    const { app, base } = await start(AppModule);
    try {
      expect(await (await fetch(`${base}/scale`)).json()).toEqual({ value: 42 });
    } finally {
      await app.close();
    }
  });

  it('throws CONFIG for bad options and duplicate models', () => {
    expect(() => BallastModule.forRoot({ models: 'x' as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => BallastModule.forRoot({ models: [], timeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'timeoutMs' } }),
    );
    expect(() => BallastModule.forRoot({ models: [], guard: {} as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    const m = defineModel({ name: 'm', infer: async () => 1 });
    expect(() => new BallastModels([m, m])).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new BallastModels([{ name: 'x' } as never])).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('without a guard', () => {
  it('serves the v2 routes openly but fails closed on routes protected by BallastAuthGuard', async () => {
    const echo = defineModel({
      name: 'echo',
      infer: async (row: { flag: { data: boolean[]; dims: number[] } }) => ({ flag: { type: 'bool', ...row.flag } }),
    });
    @Controller('private')
    @UseGuards(BallastAuthGuard)
    @UseFilters(BallastExceptionFilter)
    class PrivateController {
      @Get()
      get() {
        return { secret: true };
      }
    }
    @Module({ imports: [BallastModule.forRoot({ models: [echo], v2: true })], controllers: [PrivateController] })
    class AppModule {}
    const { app, base } = await start(AppModule);
    try {
      const response = await fetch(`${base}/v2/models/echo/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'flag', shape: [2], datatype: 'BOOL', data: [true, false] }] }),
      });
      expect(await response.json()).toEqual({
        model_name: 'echo',
        outputs: [{ name: 'flag', shape: [2], datatype: 'BOOL', data: [true, false] }],
      });
      const denied = await fetch(`${base}/private`);
      expect(denied.status).toBe(401);
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    } finally {
      await app.close();
    }
  });
});

describe('client disconnect', () => {
  it('aborts the model call when the client hangs up', async () => {
    let aborted: ((reason: unknown) => void) | undefined;
    const abortSeen = new Promise((resolve) => {
      aborted = resolve;
    });
    const waiting = defineModel<unknown, unknown>({
      name: 'waiting',
      infer: (_input, options) =>
        new Promise((_resolve, reject) => {
          signalOf(options)?.addEventListener('abort', () => {
            aborted?.(signalOf(options)?.reason);
            reject(new BallastError('CANCELLED', 'client went away'));
          });
        }),
    });
    @Controller('wait')
    @UseInterceptors(BallastContextInterceptor)
    class WaitController {
      constructor(@InjectModel('waiting') private readonly model: Model) {}
      @Get()
      get() {
        return this.model.infer(undefined);
      }
    }
    @Module({ imports: [BallastModule.forRoot({ models: [waiting] })], controllers: [WaitController] })
    class AppModule {}
    const { app, base } = await start(AppModule);
    try {
      const controller = new AbortController();
      const request = fetch(`${base}/wait`, { signal: controller.signal }).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      await request;
      expect(await abortSeen).toMatchObject({ code: 'CANCELLED' });
    } finally {
      await app.close();
    }
  });
});
