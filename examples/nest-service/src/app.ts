import type { Model } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import {
  BallastAuthGuard,
  BallastAuthorize,
  BallastContextInterceptor,
  BallastModule,
  currentRequestContext,
  InjectModel,
} from '@ballast/nest';
import { type OnnxInputs, type OnnxOutputs, onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import {
  Body,
  Controller,
  HttpCode,
  type INestApplication,
  Module,
  type OnApplicationShutdown,
  Post,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/** What `POST /score` takes: four numeric features. */
interface ScoreRequest {
  features: number[];
}

/** An app route next to the v2 routes: the model is injected and receives the caller's context. */
@Controller('score')
@UseGuards(BallastAuthGuard)
@UseInterceptors(BallastContextInterceptor)
class ScoreController {
  constructor(@InjectModel('risk') private readonly model: Model<OnnxInputs, OnnxOutputs>) {}

  @Post()
  @HttpCode(200)
  @BallastAuthorize({ action: 'infer', model: 'risk' })
  async score(@Body() body: ScoreRequest) {
    const output = await this.model.infer({ features: { data: Float32Array.from(body?.features ?? []), dims: [4] } });
    const probabilities = Array.from(output.probabilities?.data as Float32Array);
    return { probabilities, requestId: currentRequestContext()?.requestId };
  }
}

/** Logs the end of shutdown; BallastModule closes the models in the same phase. */
class ShutdownLog implements OnApplicationShutdown {
  onApplicationShutdown(signal?: string): void {
    console.log(`stopped${signal ? ` on ${signal}` : ''}`);
  }
}

/** A running service and an API key allowed to call it. */
export interface Service {
  app: INestApplication;
  url: string;
  key: string;
}

/**
 * Builds and starts the service on `127.0.0.1:port` (0 picks a free port): a small ONNX model
 * (4 features → 2 class probabilities) behind API keys, served on `/v2/...` and `/score`.
 */
export async function startService(port = 0): Promise<Service> {
  // A demo model built in memory (no files, no downloads): a 4→8→2 MLP with softmax.
  const risk = await onnxModel({
    name: 'risk',
    version: '1',
    bytes: mlpModel({
      layers: randomLayers({ sizes: [4, 8, 2], seed: 11 }),
      softmax: true,
      inputName: 'features',
      outputName: 'probabilities',
    }),
  });
  const keys = apiKeys({ secret: process.env.KEY_SECRET ?? 'demo-secret-change-me-32-characters!!', store: memoryKeyStore() });
  const { key } = await keys.create({ principalId: 'demo-client', roles: ['infer'] });
  const guard = createGuard({ keys, limits: { rate: { ratePerSecond: 50, burst: 100 } } });

  @Module({
    imports: [BallastModule.forRoot({ models: [risk], guard, v2: true, timeoutMs: 2_000 })],
    controllers: [ScoreController],
    providers: [ShutdownLog],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
  return { app, url: await app.getUrl(), key };
}
