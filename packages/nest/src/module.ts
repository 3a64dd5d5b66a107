import type { Server } from 'node:http';
import type { Model } from '@ballast/core';
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
  Optional,
  type Provider,
} from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { BallastAuthGuard } from './auth-guard.js';
import { BallastBodyGate } from './body-gate.js';
import { BallastExceptionFilter } from './exception-filter.js';
import { BallastContextInterceptor } from './interceptor.js';
import { BallastModels } from './models.js';
import { type BallastModuleOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { BALLAST_OPTIONS, modelToken } from './tokens.js';
import { BallastV2Controller } from './v2-controller.js';

/** What `BallastModule.forRootAsync()` takes. */
export interface BallastModuleAsyncOptions {
  /** Modules whose providers the factory injects (e.g. a `ConfigModule`). */
  imports?: ModuleMetadata['imports'];
  /** Tokens passed to `useFactory`, in order. */
  inject?: unknown[];
  /** Builds the options (may load models). `v2`, `globalFilter` and `global` are taken from here, not from the factory's result. */
  useFactory: (...args: never[]) => BallastModuleOptions | Promise<BallastModuleOptions>;
  /**
   * Names of the models to make injectable with `@InjectModel(name)`. Nest needs the providers
   * before the factory runs, so name them here; every model is reachable through `BallastModels`
   * either way.
   */
  modelNames?: readonly string[];
  /** Mount the Open Inference Protocol v2 routes. Default false. */
  v2?: boolean;
  /** Register `BallastExceptionFilter` globally (see `BallastModuleOptions.globalFilter`). Default: the value of `v2`. */
  globalFilter?: boolean;
  /** Register the module globally. Default true. */
  global?: boolean;
}

/**
 * Closes the models when the application shuts down (after the HTTP server stopped taking
 * requests). Nest's `app.close()` waits for the HTTP server to close, and the server waits for
 * every open connection: a client that sent half a body, or keeps its keep-alive connection
 * busy, would hold the shutdown until it gives up. What is still open `drainTimeoutMs` after
 * shutdown began is closed.
 */
@Injectable()
class BallastShutdown implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Ballast');
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(BallastModels) private readonly models: BallastModels,
    @Inject(BALLAST_OPTIONS) private readonly options: ResolvedOptions,
    @Optional() @Inject(HttpAdapterHost) private readonly adapterHost?: HttpAdapterHost,
  ) {}

  beforeApplicationShutdown(): void {
    this.models.beginDrain();
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined;
    if (typeof server?.closeAllConnections === 'function') {
      this.closeTimer = setTimeout(() => server.closeAllConnections(), this.options.drainTimeoutMs);
      this.closeTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.closeTimer);
    const errors = await this.models.close(this.options.drainTimeoutMs);
    for (const error of errors) this.logger.error(`closing a model failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// 500s the served routes answer are logged through Nest's Logger (unless `onError` is given).
const servingLogger = new Logger('Ballast');

const SHARED: Provider[] = [
  {
    provide: BallastModels,
    useFactory: (options: ResolvedOptions) =>
      new BallastModels(options.models, {
        readinessFollowsBreakers: options.readinessFollowsBreakers,
        maxBatchSize: options.maxBatchSize,
        drainTimeoutMs: options.drainTimeoutMs,
        requestIdHeader: options.requestIdHeader,
        log: (line) => servingLogger.error(line),
        ...(options.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: options.healthTimeoutMs }),
        ...(options.guard === undefined ? {} : { guard: options.guard }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.onError === undefined ? {} : { onError: options.onError }),
      }),
    inject: [BALLAST_OPTIONS],
  },
  BallastShutdown,
  BallastAuthGuard,
  BallastContextInterceptor,
  BallastExceptionFilter,
];

const GLOBAL_FILTER: Provider = { provide: APP_FILTER, useExisting: BallastExceptionFilter };

const EXPORTS = [BALLAST_OPTIONS, BallastModels, BallastAuthGuard, BallastContextInterceptor, BallastExceptionFilter];

function modelProviders(names: Iterable<string>): Provider[] {
  return [...new Set(names)].map((name) => ({
    provide: modelToken(name),
    useFactory: (models: BallastModels) => models.get(name),
    inject: [BallastModels],
  }));
}

/**
 * Serves Ballast models in a Nest application: registers the models (injectable with
 * `@InjectModel(name)` and through `BallastModels`), provides `BallastAuthGuard`,
 * `BallastContextInterceptor` and `BallastExceptionFilter`, optionally mounts the Open Inference
 * Protocol v2 routes, and closes the models on application shutdown.
 *
 * @example
 * @Module({
 *   imports: [BallastModule.forRoot({ models: [iris], guard: { keys }, v2: true, timeoutMs: 2_000 })],
 *   controllers: [ScoreController],
 * })
 * class AppModule {}
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: Nest dynamic modules are classes with static factories.
export class BallastModule {
  /**
   * Registers models and options known when the module is defined. Throws `CONFIG` for bad options.
   *
   * @example
   * BallastModule.forRoot({ models: [defineModel({ name: 'double', infer: async (x: number) => x * 2 })] });
   */
  static forRoot(options: BallastModuleOptions): DynamicModule {
    const resolved = resolveOptions(options);
    const modelProvidersList = modelProviders(resolved.models.map((model: Model) => model.name));
    return {
      module: BallastModule,
      global: options.global ?? true,
      providers: [
        { provide: BALLAST_OPTIONS, useValue: resolved },
        ...SHARED,
        ...modelProvidersList,
        ...(resolved.globalFilter ? [GLOBAL_FILTER] : []),
        ...(resolved.v2 ? [BallastBodyGate] : []),
      ],
      controllers: resolved.v2 ? [BallastV2Controller] : [],
      exports: [...EXPORTS, ...modelProvidersList.map((provider) => (provider as { provide: symbol }).provide)],
    };
  }

  /**
   * Registers models built by a factory (loaded from configuration, opened asynchronously).
   *
   * @example
   * BallastModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   modelNames: ['iris'],
   *   useFactory: async (config: ConfigService) => ({ models: [await onnxModel({ path: config.get('MODEL_PATH') })] }),
   * });
   */
  static forRootAsync(options: BallastModuleAsyncOptions): DynamicModule {
    const modelProvidersList = modelProviders(options.modelNames ?? []);
    return {
      module: BallastModule,
      global: options.global ?? true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: BALLAST_OPTIONS,
          useFactory: async (...args: never[]) => ({
            ...resolveOptions(await options.useFactory(...args)),
            v2: options.v2 === true,
            globalFilter: options.globalFilter ?? options.v2 === true,
          }),
          inject: (options.inject ?? []) as never[],
        },
        ...SHARED,
        ...modelProvidersList,
        ...((options.globalFilter ?? options.v2 === true) ? [GLOBAL_FILTER] : []),
        ...(options.v2 === true ? [BallastBodyGate] : []),
      ],
      controllers: options.v2 === true ? [BallastV2Controller] : [],
      exports: [...EXPORTS, ...modelProvidersList.map((provider) => (provider as { provide: symbol }).provide)],
    };
  }
}
