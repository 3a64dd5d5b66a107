import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_BODY_BYTES } from '@ballast/guard';
import {
  parseV2Body,
  readJsonBodyNow,
  requestIdOf,
  type ServingAnswer,
  type ServingCore,
  type ServingExchange,
  V2_HEADER_LENGTH,
} from '@ballast/serving';
import { Controller, Get, Inject, Post, Req, Res, UseFilters } from '@nestjs/common';
import { BallastExceptionFilter } from './exception-filter.js';
import { BallastModels } from './models.js';
import type { ResolvedOptions } from './options.js';
import { ServedByCore } from './served-by-core.js';
import { BALLAST_OPTIONS } from './tokens.js';

/** The request as Nest's platform-express hands it over: Express 5's, a `node:http` request. */
type NestRequest = IncomingMessage & { params: Record<string, string | undefined>; body?: unknown; rawBody?: unknown };

/**
 * The exchange the serving core reads. The served routes' bodies are left unread by Nest's
 * parsers (see `BallastBodyGate`), so the core reads them itself: under the guard's per-model
 * limit and the request's budget (408 for a body that arrives too slowly), with exact 64-bit
 * integers and the binary tensor data extension. A body a parser of the app read anyway is used
 * as it is (its raw bytes when Nest kept them with `rawBody: true`). A class, so `readBody` is on
 * the prototype, not a closure per request.
 */
class NestExchange implements ServingExchange<IncomingMessage> {
  constructor(
    readonly request: NestRequest,
    readonly response: ServerResponse,
  ) {}

  readBody(limitBytes: number | undefined, deadline: number): unknown {
    const { request } = this;
    if (Buffer.isBuffer(request.rawBody)) return parseV2Body(request.rawBody, request.headers[V2_HEADER_LENGTH]);
    if (request.body !== undefined) return request.body;
    return readJsonBodyNow(request, limitBytes ?? DEFAULT_MAX_BODY_BYTES, deadline);
  }
}

/**
 * The Open Inference Protocol v2 routes (the REST protocol of KServe and Triton) over the models
 * of `BallastModule`, mounted with `forRoot({ v2: true })`: `GET /v2`, `GET /v2/health/live`,
 * `GET /v2/health/ready` (public), `GET /v2/models/:name[/versions/:version]`, `GET .../ready`,
 * `POST .../infer` and `POST .../generate`. Every answer comes from the serving core
 * (`@ballast/serving`), as under `@ballast/express` and `@ballast/fastify`: authentication,
 * admission, the body, the checks, the model call, the output filter, the audit line and the
 * error bodies. `BallastAuthGuard` and `BallastContextInterceptor` let these routes through
 * untouched when an app applies them globally, so nothing is done twice.
 *
 * @example
 * @Module({ imports: [BallastModule.forRoot({ models: [await onnxModel({ name: 'iris', path: 'iris.onnx' })], v2: true })] })
 * class AppModule {}
 * // POST /v2/models/iris/infer {"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}
 */
@Controller('v2')
@ServedByCore()
@UseFilters(BallastExceptionFilter)
export class BallastV2Controller {
  private readonly core: ServingCore<IncomingMessage>;

  /**
   * @param models the registered models and their serving core.
   * @param options the module options (`requestIdHeader`).
   */
  constructor(
    @Inject(BallastModels) models: BallastModels,
    @Inject(BALLAST_OPTIONS) private readonly options: ResolvedOptions,
  ) {
    this.core = models.serving;
  }

  /** Server metadata (`GET /v2`): name, version and the protocol extensions supported. */
  @Get()
  serverMetadata(@Req() request: NestRequest, @Res() response: ServerResponse): void {
    this.plain(request, response, this.core.serverMetadata());
  }

  /** Liveness: the process answers. */
  @Get('health/live')
  live(@Req() request: NestRequest, @Res() response: ServerResponse): void {
    this.plain(request, response, this.core.live());
  }

  /** Readiness: `{ ready, models }`, 200 when every model is ready, else 503 (load balancers stop sending traffic). */
  @Get('health/ready')
  async ready(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    this.plain(request, response, await this.core.ready());
  }

  /** Metadata of a model. */
  @Get('models/:name')
  async metadata(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.metadata(new NestExchange(request, response), nameOf(request), undefined));
  }

  /** Metadata of one version of a model. */
  @Get('models/:name/versions/:version')
  async versionMetadata(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.metadata(new NestExchange(request, response), nameOf(request), request.params.version));
  }

  /** Readiness of a model: 200 when ready, 503 when not. */
  @Get('models/:name/ready')
  async modelReady(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.modelReady(new NestExchange(request, response), nameOf(request), undefined));
  }

  /** Readiness of one version of a model. */
  @Get('models/:name/versions/:version/ready')
  async versionReady(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.modelReady(new NestExchange(request, response), nameOf(request), request.params.version));
  }

  /** Runs an inference; the request `id` is echoed. */
  @Post('models/:name/infer')
  async infer(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.infer(new NestExchange(request, response), nameOf(request), undefined));
  }

  /** Runs an inference on one version of a model. */
  @Post('models/:name/versions/:version/infer')
  async inferVersion(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.infer(new NestExchange(request, response), nameOf(request), request.params.version));
  }

  /**
   * Generates from a model: the JSON body (less `stream`) is its input. With `stream: true` (or
   * `Accept: text/event-stream`) and a model that streams, the answer is Server-Sent Events (see
   * the serving core's `generate`); otherwise JSON `{ model_name, model_version?, output }`.
   */
  @Post('models/:name/generate')
  async generate(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.generate(new NestExchange(request, response), nameOf(request), undefined));
  }

  /** Generates from one version of a model (see {@link BallastV2Controller.generate}). */
  @Post('models/:name/versions/:version/generate')
  async generateVersion(@Req() request: NestRequest, @Res() response: ServerResponse): Promise<void> {
    write(response, await this.core.generate(new NestExchange(request, response), nameOf(request), request.params.version));
  }

  // The routes without a model get their request id (and, while draining, `Connection: close`)
  // here; the model routes get them from the core.
  private plain(request: NestRequest, response: ServerResponse, answer: ServingAnswer): void {
    requestIdOf(request, response, this.options.requestIdHeader);
    if (this.core.draining) response.setHeader('Connection', 'close');
    write(response, answer);
  }
}

function nameOf(request: NestRequest): string {
  return String(request.params.name);
}

/** Writes the core's answer on the Node response (the route took the response over with `@Res()`). */
function write(response: ServerResponse, answer: ServingAnswer): void {
  if (answer.answered === true) return;
  if (response.headersSent) {
    // Too late for a status: end the response so the client is not left waiting.
    response.end();
    return;
  }
  response.statusCode = answer.status;
  if (answer.retryAfter !== undefined) response.setHeader('Retry-After', answer.retryAfter);
  if (answer.headers !== undefined) {
    // Bytes written as they are (binary tensor data, or JSON with exact 64-bit integers).
    for (const key in answer.headers) response.setHeader(key, answer.headers[key] as string);
    response.end(answer.body as Buffer);
    return;
  }
  const text = JSON.stringify(answer.body);
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.setHeader('content-length', Buffer.byteLength(text));
  response.end(text);
}
