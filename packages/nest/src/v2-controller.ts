import type { IncomingMessage, ServerResponse } from 'node:http';
import { BallastError, type Model, type V2InferResponse } from '@ballast/core';
import { DEFAULT_MAX_BODY_BYTES } from '@ballast/guard';
import {
  encodeV2Answer,
  inferV2,
  parseV2Body,
  readJsonBody,
  reportServedError,
  sendEventStream,
  V2_HEADER_LENGTH,
  type V2ModelMetadata,
  type V2ServerMetadata,
  v2ServerMetadata,
  wantsEventStream,
} from '@ballast/serving';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
  StreamableFile,
  UseFilters,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { BallastAuthGuard, BallastPublic, OpenWithoutGuard } from './auth-guard.js';
import { currentRequestContext, withRequestOptions } from './context.js';
import { BallastExceptionFilter } from './exception-filter.js';
import { BallastContextInterceptor } from './interceptor.js';
import { BallastModels } from './models.js';
import type { ResolvedOptions } from './options.js';
import { existingStateOf } from './request-state.js';
import { BALLAST_OPTIONS } from './tokens.js';

interface StatusResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/**
 * The Open Inference Protocol v2 routes (the REST protocol of KServe and Triton) over the models
 * of `BallastModule`, mounted with `forRoot({ v2: true })`:
 * `GET /v2/health/live`, `GET /v2/health/ready` (public), `GET /v2/models/:name[/versions/:version]`,
 * `GET .../ready` and `POST .../infer`. Model routes are authorized as `read` and `infer` on
 * `:name` by `BallastAuthGuard` when the module has a guard, and open when it has none.
 *
 * @example
 * @Module({ imports: [BallastModule.forRoot({ models: [await onnxModel({ name: 'iris', path: 'iris.onnx' })], v2: true })] })
 * class AppModule {}
 * // POST /v2/models/iris/infer {"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}
 */
@Controller('v2')
@OpenWithoutGuard()
@UseGuards(BallastAuthGuard)
@UseInterceptors(BallastContextInterceptor)
@UseFilters(BallastExceptionFilter)
export class BallastV2Controller {
  /**
   * @param models the registered models.
   * @param options the module options (`maxBatchSize`).
   */
  constructor(
    @Inject(BallastModels) private readonly models: BallastModels,
    @Inject(BALLAST_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Server metadata (`GET /v2`): name, version and the protocol extensions supported. */
  @Get()
  @BallastPublic()
  serverMetadata(): V2ServerMetadata {
    return v2ServerMetadata();
  }

  /** Liveness: the process answers. */
  @Get('health/live')
  @BallastPublic()
  live(): { live: boolean } {
    return { live: true };
  }

  /** Readiness: 200 when every model is ready, else 503 (load balancers stop sending traffic). */
  @Get('health/ready')
  @BallastPublic()
  async ready(@Res({ passthrough: true }) response: StatusResponse): Promise<{ ready: boolean }> {
    const ready = await this.models.ready();
    if (!ready) response.status(503);
    return { ready };
  }

  /** Metadata of a model. */
  @Get('models/:name')
  metadata(@Param('name') name: string): V2ModelMetadata {
    return this.describe(name, undefined);
  }

  /** Metadata of one version of a model. */
  @Get('models/:name/versions/:version')
  versionMetadata(@Param('name') name: string, @Param('version') version: string): V2ModelMetadata {
    return this.describe(name, version);
  }

  /** Readiness of a model: 200 when ready, 503 when not. */
  @Get('models/:name/ready')
  modelReady(@Param('name') name: string, @Res({ passthrough: true }) response: StatusResponse): Promise<{ name: string; ready: boolean }> {
    return this.modelReadiness(name, undefined, response);
  }

  /** Readiness of one version of a model. */
  @Get('models/:name/versions/:version/ready')
  versionReady(
    @Param('name') name: string,
    @Param('version') version: string,
    @Res({ passthrough: true }) response: StatusResponse,
  ): Promise<{ name: string; ready: boolean }> {
    return this.modelReadiness(name, version, response);
  }

  /** Runs an inference; the request `id` is echoed. */
  @Post('models/:name/infer')
  @HttpCode(200)
  infer(
    @Param('name') name: string,
    @Body() body: unknown,
    @Req() request: unknown,
    @Res({ passthrough: true }) response: StatusResponse,
  ): Promise<V2InferResponse | StreamableFile> {
    return this.run(name, undefined, body, request, response);
  }

  /** Runs an inference on one version of a model. */
  @Post('models/:name/versions/:version/infer')
  @HttpCode(200)
  inferVersion(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() request: unknown,
    @Res({ passthrough: true }) response: StatusResponse,
  ): Promise<V2InferResponse | StreamableFile> {
    return this.run(name, version, body, request, response);
  }

  /**
   * Generates from a model: the JSON body (less `stream`) is its input. With `stream: true` (or
   * `Accept: text/event-stream`) and a model that streams, the answer is Server-Sent Events (see
   * the serving core's `generate`); otherwise JSON `{ model_name, model_version?, output }`.
   */
  @Post('models/:name/generate')
  generate(@Param('name') name: string, @Body() body: unknown, @Req() request: unknown, @Res() response: ServerResponse): Promise<void> {
    return this.serveGenerate(name, undefined, body, request, response);
  }

  /** Generates from one version of a model (see {@link BallastV2Controller.generate}). */
  @Post('models/:name/versions/:version/generate')
  generateVersion(
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Req() request: unknown,
    @Res() response: ServerResponse,
  ): Promise<void> {
    return this.serveGenerate(name, version, body, request, response);
  }

  private async serveGenerate(
    name: string,
    version: string | undefined,
    body: unknown,
    http: unknown,
    response: ServerResponse,
  ): Promise<void> {
    const model: Model = this.models.get(name, version);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BallastError('INVALID_INPUT', 'the generate body must be a JSON object');
    const { stream: _stream, ...fields } = body as Record<string, unknown>;
    const state = existingStateOf(http);
    if (state !== undefined) state.input = fields;
    const guard = this.options.guard;
    const input = guard === undefined ? fields : await guard.checkInput(name, fields);
    const served = this.models.registry.resolve(name, version).served;
    if (served.stream !== undefined && wantsEventStream(http as Parameters<typeof wantsEventStream>[0], body)) {
      if (this.models.isDraining) throw new BallastError('MODEL_UNAVAILABLE', 'the application is shutting down', { retryAfterMs: 1000 });
      // The request's options (deadline, the client's disconnect signal, principal) from the
      // interceptor's context; a failure before the first chunk goes to the exception filter.
      const raw = served.stream(input, withRequestOptions(undefined));
      // The guard's output redaction applies to streamed text as to JSON answers.
      const outcome = await sendEventStream(response, guard === undefined ? raw : guard.filterStream(name, raw));
      if (state !== undefined) {
        if (outcome.usage !== undefined) state.usage = outcome.usage;
        if (outcome.error !== undefined) state.error = outcome.error;
      }
      if (outcome.error !== undefined) reportServedError(outcome.error, http, state?.requestId, this.options.onError);
      return;
    }
    const output = await model.infer(input);
    const result: Record<string, unknown> = { model_name: name };
    if (model.version !== undefined) result.model_version = model.version;
    result.output = output;
    const answer = guard === undefined ? result : guard.filterOutput(name, result);
    const text = JSON.stringify(answer);
    response
      .writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
      .end(text);
  }

  private async modelReadiness(
    name: string,
    version: string | undefined,
    response: StatusResponse,
  ): Promise<{ name: string; ready: boolean }> {
    const report = await this.models.health(name, version);
    if (!report.ready) response.status(503);
    return { name, ready: report.ready };
  }

  private describe(name: string, version: string | undefined): V2ModelMetadata {
    // The serving core's metadata answer (NOT_FOUND for an unknown model or version).
    return this.models.registry.metadata(name, version);
  }

  private async run(
    name: string,
    version: string | undefined,
    parsed: unknown,
    http: unknown,
    response: StatusResponse,
  ): Promise<V2InferResponse | StreamableFile> {
    const model: Model = this.models.get(name, version);
    const body = await this.body(name, parsed, http as IncomingMessage & { rawBody?: unknown; body?: unknown });
    // The serving core's inference step (decode with the datatype check against the declared
    // inputs, the guard's input check, inferBatch for a batch, encode, the output filter): the
    // same as @ballast/express and @ballast/fastify. Authentication, admission and the audit line
    // are Nest's guard and interceptor; the request's options reach the model through its wrapper.
    const result = await inferV2(model, body, {
      name,
      version: model.version,
      guard: this.options.guard,
      maxBatch: this.options.maxBatchSize,
      // Converted from the model's specs once per specs array, not on every request.
      inputs: this.models.registry.declaredInputs(this.models.registry.resolve(name, version)),
      perExample: this.models.registry.perExample(this.models.registry.resolve(name, version)),
      // The audit line (written when the response is done) hashes the decoded input.
      record: existingStateOf(http),
    });
    const answer = encodeV2Answer(result, body);
    if (answer.json !== undefined) return answer.json;
    if (answer.headerLength !== undefined) response.setHeader(V2_HEADER_LENGTH, String(answer.headerLength));
    return new StreamableFile(answer.bytes, { type: answer.contentType, length: answer.bytes.length });
  }

  /**
   * The request body as the serving core reads it (exact 64-bit integers, the binary tensor data
   * extension): from the raw bytes when the app keeps them (`NestFactory.create(..., { rawBody:
   * true })`), else from the stream when Nest's JSON parser left it unread (a binary request is
   * `application/octet-stream`), else the body Nest's parser gave (where integers beyond 2^53 are
   * already rounded, and refused).
   */
  private body(name: string, parsed: unknown, request: IncomingMessage & { rawBody?: unknown; body?: unknown }): unknown {
    if (Buffer.isBuffer(request.rawBody)) return parseV2Body(request.rawBody, request.headers[V2_HEADER_LENGTH]);
    if (request.body === undefined && !request.readableEnded) {
      // Under the guard's per-model limit and the request's budget (the interceptor's deadline).
      const deadline = currentRequestContext()?.options.deadline;
      return readJsonBody(request, this.options.guard?.maxBodyBytes(name) ?? DEFAULT_MAX_BODY_BYTES, deadline);
    }
    return parsed;
  }
}
