// docs/examples/nest-module.ts
import 'reflect-metadata';
import { defineModel, type Model } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import {
  BallastAuthGuard,
  BallastAuthorize,
  BallastContextInterceptor,
  BallastModule,
  currentRequestContext,
  InjectModel,
} from '@ballast/nest';
import { Body, Controller, HttpCode, Module, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

// A model that shows what reaches it: the caller's principal and the request's attributes.
const sentiment = defineModel({
  name: 'sentiment',
  infer: async (text: string, options) => ({
    label: text.includes('good') ? 'positive' : 'negative',
    caller: options?.principal?.id,
    route: options?.attributes?.['http.route'],
  }),
});

@Controller('sentiment')
@UseGuards(BallastAuthGuard) // API key → principal → authorize('infer', 'sentiment') → rate limit
@UseInterceptors(BallastContextInterceptor) // request id, principal, route and deadline → InferOptions
class SentimentController {
  // Explicit tokens: no reliance on emitted decorator metadata.
  constructor(@InjectModel('sentiment') private readonly model: Model<string, object>) {}

  @Post()
  @HttpCode(200)
  @BallastAuthorize({ action: 'infer', model: 'sentiment' })
  async classify(@Body() body: { text: string }) {
    const result = await this.model.infer(body.text); // no options passed: the request's are merged in
    return { ...result, requestId: currentRequestContext()?.requestId };
  }
}

const keys = apiKeys({ secret: 'docs-example-secret-at-least-32-chars', store: memoryKeyStore() });
const writer = await keys.create({ principalId: 'web-app', roles: ['infer'] });
const reader = await keys.create({ principalId: 'dashboard', roles: ['read'] });

@Module({
  imports: [BallastModule.forRoot({ models: [sentiment], guard: createGuard({ keys }), globalFilter: true, timeoutMs: 1_000 })],
  controllers: [SentimentController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const url = `${await app.getUrl()}/sentiment`;

async function call(label: string, headers: Record<string, string>, body = JSON.stringify({ text: 'a good day' })) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  console.log(`${label}: ${response.status} ${await response.text()}`);
}

await call('with a key', { authorization: `Bearer ${writer.key}`, 'x-request-id': 'req-1' });
await call('no key', {});
await call('read-only key', { 'x-api-key': reader.key });
await call('malformed JSON', { authorization: `Bearer ${writer.key}` }, '{"text": ');
await app.close(); // closes the HTTP server, then the models
