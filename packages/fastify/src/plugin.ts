import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_BODY_BYTES } from '@ballast/guard';
import {
  createServingCore,
  readJsonBodyNow,
  requestIdOf,
  type ServerReadiness,
  type ServingAnswer,
  type ServingCoreOptions,
  type ServingExchange,
  type ShutdownOptions,
} from '@ballast/serving';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Options of {@link ballastFastify}: the serving core's options (models, guard, budgets, readiness). */
export type BallastFastifyOptions = Omit<ServingCoreOptions<IncomingMessage>, 'owner'>;

/** The plugin: register it with `app.register(plugin)`; it also reports readiness and drains. */
export interface BallastFastifyPlugin {
  /** The Fastify plugin function. */
  (app: FastifyInstance): Promise<void>;
  /** Whether every model is ready (health, not shutting down, no open breaker without a fallback). */
  readiness(): Promise<ServerReadiness>;
  /** Requests being served now. */
  readonly inFlight: number;
  /**
   * Stops taking work (readiness and new requests answer 503 with `Retry-After`), waits for
   * in-flight requests (bounded), then closes the server (if given, e.g. `app.server`) and the models.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

type Params = { name: string; version?: string };

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

// Model names a static route path holds as they are: no parameter (`:`), wildcard (`*`),
// pattern, query or percent-encoded characters for the router to read otherwise.
const STATIC_NAME = /^\w[\w.~-]*$/;

// An answer written straight to the Node response (a taken-over reply) as JSON.
function writeJson(response: ServerResponse, answer: ServingAnswer): void {
  const text = JSON.stringify(answer.body);
  const headers: Record<string, string> = {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(text)),
  };
  if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
  response.writeHead(answer.status, headers).end(text);
}

// The body stays a stream: the core reads it after authentication and admission.
function passBody(_request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void): void {
  done(null, payload);
}

// An answer written through the reply: Fastify writes every header in one `writeHead`.
function send(reply: FastifyReply, answer: ServingAnswer): FastifyReply {
  if (answer.retryAfter !== undefined) reply.header('retry-after', answer.retryAfter);
  // Bytes written as they are (binary tensor data, or JSON with exact 64-bit integers).
  if (answer.headers !== undefined) return reply.headers(answer.headers).code(answer.status).send(answer.body);
  // Serialised here, with its content type: Fastify sends a string as it is (no serializer
  // lookup for a route without a response schema).
  return reply.header('content-type', JSON_CONTENT_TYPE).code(answer.status).send(JSON.stringify(answer.body));
}

/**
 * The exchange of the Node request and response, for a reply taken over from Fastify (the
 * generate route writes the response itself): headers go straight to the response. The body
 * stays a stream until the infer route reads it (after authentication and admission, under the
 * model's own size limit), like body-parser under Express. A class, so its methods are on the
 * prototype, not closures per request.
 */
class RawExchange implements ServingExchange<IncomingMessage> {
  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
  ) {}

  readBody(limitBytes: number | undefined, deadline: number): unknown {
    return readJsonBodyNow(this.request, limitBytes ?? DEFAULT_MAX_BODY_BYTES, deadline);
  }
}

/**
 * The exchange while Fastify writes the answer: headers go through the reply (one `writeHead`
 * with all of them, Node's fast path) and the core hands the answer to `respond`, so a route's
 * handler returns at once instead of waiting on the core's promise (no suspended frame, promise
 * or `then` of Fastify's per request).
 */
class FastifyExchange extends RawExchange {
  constructor(private readonly reply: FastifyReply) {
    super(reply.request.raw, reply.raw);
  }

  get headersSent(): boolean {
    return this.response.headersSent;
  }

  setHeader(name: string, value: string): void {
    this.reply.header(name, value);
  }

  respond(answer: ServingAnswer): void {
    if (answer.answered !== true) send(this.reply, answer);
  }
}

/**
 * A Fastify 5 plugin serving models over the Open Inference Protocol v2: the same routes,
 * answers, guard checks, drain and error bodies as `@ballast/express`'s `ballastRouter()`,
 * from the same serving core. Register it without `fastify-plugin`: its body parser (any content
 * type, read as JSON under the guard's per-model limit) and error handler stay inside it.
 *
 * @example
 * const ballast = ballastFastify({ models: [fraud], guard });
 * await app.register(ballast);
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 * process.on('SIGTERM', () => ballast.shutdown({ server: app.server }));
 */
export function ballastFastify(options: BallastFastifyOptions): BallastFastifyPlugin {
  const core = createServingCore<IncomingMessage>({ ...options, owner: 'ballastFastify' });
  const header = (options.requestIdHeader ?? 'x-request-id').toLowerCase();

  // The model routes get their request id (and, while draining, `Connection: close`) from the
  // core; the others here, without a hook of their own that every request would pay for.
  const plain = (request: FastifyRequest, reply: FastifyReply, answer: ServingAnswer) => {
    requestIdOf(request.raw, new FastifyExchange(reply), header);
    if (core.draining) reply.header('connection', 'close');
    return send(reply, answer);
  };
  // The generate route may answer an event stream the core writes itself: the reply is taken
  // over from Fastify (hijacked) and a JSON answer is written on the raw response too.
  // A taken-over reply is not answered by Fastify's error handler: whatever fails here (the core's
  // answer, or an answer JSON cannot hold, such as a bigint in a model's output) is answered with
  // the core's error body, so the request never waits for an answer that will not come.
  const generate = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    reply.hijack();
    // Taken over: headers go straight to the Node response, which this route writes itself.
    const exchange = new RawExchange(request.raw, reply.raw);
    try {
      const answer = await core.generate(exchange, request.params.name, request.params.version);
      if (answer.answered === true || reply.raw.headersSent) {
        if (!reply.raw.writableEnded) reply.raw.end();
        return;
      }
      writeJson(reply.raw, answer);
    } catch (error) {
      if (reply.raw.headersSent) reply.raw.destroy();
      else writeJson(reply.raw, core.fail(exchange, error));
    }
  };
  // The other model routes hand their exchange to the core and return: the core answers through
  // it (FastifyExchange.respond), and its promise never rejects for an exchange that responds.
  const model = (route: 'infer' | 'metadata' | 'modelReady') => {
    // Looked up once: `core[route]` on every request is a property read by a varying name.
    const answer = core[route];
    return (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, name = request.params.name): void => {
      void answer(new FastifyExchange(reply), name, request.params.version);
    };
  };

  const plugin = async function ballastPlugin(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    // The same pass-through for JSON by name: Fastify caches the parser it finds for a content
    // type by name, but looks the catch-all up again (parsing the header) on every request.
    app.addContentTypeParser(['application/json', 'application/octet-stream'], passBody);
    app.addContentTypeParser('*', passBody);
    app.setErrorHandler((error, request, reply) => plain(request, reply, core.fail(new FastifyExchange(reply), error)));
    // The infer route of each served model also by its own name: Fastify's router finds a
    // static path without matching and decoding a parameter. The parametric route stays for
    // names a static path cannot hold as they are (they answer the same).
    // A case-insensitive router would send `/v2/models/MLP/infer` to model `mlp`'s static route
    // where the parametric one answers 404 for an unknown name: static routes only when it is not.
    const config = app.initialConfig as { caseSensitive?: boolean; routerOptions?: { caseSensitive?: boolean } };
    const caseSensitive = config.caseSensitive !== false && config.routerOptions?.caseSensitive !== false;
    for (const name of caseSensitive ? core.registry.names() : []) {
      if (!STATIC_NAME.test(name)) continue;
      const infer = model('infer');
      app.post(`/v2/models/${name}/infer`, (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) =>
        infer(request, reply, name),
      );
    }
    for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
      app.post(`${prefix}/infer`, model('infer'));
      app.post(`${prefix}/generate`, generate);
      app.get(prefix, model('metadata'));
      app.get(`${prefix}/ready`, model('modelReady'));
    }
    app.get('/v2/health/live', async (request, reply) => plain(request, reply, core.live()));
    app.get('/v2/health/ready', async (request, reply) => plain(request, reply, await core.ready()));
    app.get('/v2', async (request, reply) => plain(request, reply, core.serverMetadata()));
    app.all('/v2/*', async (request, reply) => {
      const error = Object.assign(new Error(`no route ${request.method} ${request.url.split('?')[0]}`), { statusCode: 404 });
      return plain(request, reply, core.fail(new FastifyExchange(reply), error));
    });
  } as BallastFastifyPlugin;
  Object.defineProperty(plugin, 'inFlight', { get: () => core.inFlight });
  plugin.readiness = core.readiness;
  plugin.shutdown = async (shutdown) => {
    await core.shutdown(shutdown);
  };
  return plugin;
}
