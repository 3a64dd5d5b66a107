import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { BallastError, type Model, now, promised, type Usage } from '@ballast/core';
import type { Guard, GuardAction, GuardPrincipal } from '@ballast/guard';
import { auditRequest, type RequestAudit } from './audit.js';
import { type OpenBreakers, trackOpenBreakers } from './breakers.js';
import { type CallState, createCallState, releaseCallState, requestBudgetMs, type ServeOptions } from './call-state.js';
import { closeServer, Drain } from './drain.js';
import {
  answerStatus,
  BODY_TIMEOUT_REASON,
  ERROR_CODE_HEADER,
  errorBodyFor,
  reportServedError,
  retryAfterSeconds,
  toHttpError,
} from './error-answer.js';
import { sendEventStream, wantsEventStream } from './event-stream.js';
import { DEFAULT_HEALTH_TIMEOUT_MS, type ModelReadiness, modelReadiness } from './readiness.js';
import { type ModelMetadataOverride, ModelRegistry, type RegisteredModel } from './registry.js';
import { type HeaderTarget, requestIdOf } from './request-id.js';
import type { DecodedV2Request, V2ModelMetadata } from './v2-codec.js';
import { answerV2, callV2, type InferV2Options, prepareV2 } from './v2-infer.js';
import { encodeV2Answer, V2_HEADER_LENGTH } from './v2-wire.js';

/** Options of {@link createServingCore} (`R` is the request type the adapter hands over). */
export interface ServingCoreOptions<R extends IncomingMessage = IncomingMessage> extends ServeOptions<R> {
  /** The models served, by their `name` (several entries with one name are versions; the first is the default; a name and version twice is refused). */
  models: readonly Model[] | Readonly<Record<string, Model>>;
  /** Metadata for models that do not expose `inputs`/`outputs` tensor specs, by model name. */
  metadata?: Record<string, ModelMetadataOverride>;
  /** Most rows one v2 request may carry. Default 4096. */
  maxBatch?: number;
  /** Require a principal with `read` on the model for metadata and model readiness. Default true with a guard. */
  protectMetadata?: boolean;
  /** How long a model's `health()` may take before it counts as not ready, ms. Default 2000. */
  healthTimeoutMs?: number;
  /**
   * Called with every error answered with a 5xx. Replaces the default report (500s to stderr with
   * the request id). If it throws, that is logged through `log` and the answer stays the same.
   */
  onError?: (error: BallastError, request: R) => void;
  /** Tie readiness to circuit breakers even when a fallback answers (default false; keyed breakers never count). */
  readinessFollowsBreakers?: boolean;
  /** The name configuration errors start with. Default `serving`. */
  owner?: string;
  /** Where the default report (without `onError`) writes a 500 answer's error, with its request id. Default `console.error`. */
  log?: (line: string) => void;
}

/** One HTTP request as an adapter hands it to the core: every adapter here runs on `node:http`. */
export interface ServingExchange<R extends IncomingMessage = IncomingMessage> {
  /** The request (the framework's own object when it extends `IncomingMessage`). */
  readonly request: R;
  /** The Node response (headers the core sets directly: the request id, `Connection: close`). */
  readonly response: ServerResponse;
  /**
   * Sets a response header through the framework (Fastify: `reply.header()`), so the framework
   * writes every header in one go: Node's `writeHead` takes a slower path, re-validating every
   * header, for a response that already had one set on it. Used together with `headersSent`;
   * without both, headers go to `response.setHeader`.
   */
  setHeader?(name: string, value: string): void;
  /** Whether the response's headers were sent (read with `setHeader`; the response's own when absent). */
  readonly headersSent?: boolean;
  /**
   * Reads the JSON body with the framework's parser, at most `limitBytes`: the body itself when
   * it is at hand (received in full, or parsed by the framework already), else a promise of it
   * (`readJsonBodyNow` answers both ways). A body still arriving at `deadline`
   * (`performance.now()` clock) rejects with `TIMEOUT` (`details.reason` `body-timeout`).
   */
  readBody(limitBytes: number | undefined, deadline: number): unknown;
  /**
   * Writes an answer with the framework. When an exchange has it, the core hands it the answer of
   * every model route (infer, generate, metadata, model readiness) itself, so the framework's
   * handler need not wait on the promise the route returns: it may return at once (Fastify's
   * plugin does; a handler that awaits costs a suspended frame and a promise per request). An
   * answer it throws on (JSON cannot hold it) is replaced by the core's error answer; if that
   * throws too, the response is destroyed. With `respond`, the route's promise never rejects.
   * An answer with `answered: true` (an event stream) was written by the core already.
   */
  respond?(answer: ServingAnswer): void;
}

/** What to answer: the adapter writes it as JSON with its framework. */
export interface ServingAnswer {
  /** HTTP status. */
  status: number;
  /** The JSON body, or bytes to write as they are (see `headers`). */
  body: unknown;
  /** `Retry-After` in seconds, for 429 and 503 answers. */
  retryAfter?: string;
  /** True when the core already wrote the whole response itself (an event stream): the adapter writes nothing. */
  answered?: boolean;
  /**
   * Headers to answer with. Set when `body` is a `Buffer` to write as is: its `content-type`, and
   * `inference-header-content-length` for the binary tensor data extension.
   */
  headers?: Record<string, string>;
}

/** Options of {@link ServingCore.shutdown}. */
export interface ShutdownOptions {
  /** An HTTP server to stop accepting connections (closed once in-flight requests drained). */
  server?: Server;
  /** Longest wait for in-flight requests, ms; then remaining connections are closed. Default 10,000. */
  drainTimeoutMs?: number;
  /** Close the served models after draining. Default true. */
  closeModels?: boolean;
}

/** The readiness of the whole server (`GET /v2/health/ready`). */
export interface ServerReadiness {
  /** True when every version of every model is ready and the server is not shutting down. */
  ready: boolean;
  /** Readiness by model name (every version counted: the first not ready gives the reason). */
  models: Record<string, ModelReadiness>;
}

/** The framework-free serving core: what every adapter answers, route by route. */
export interface ServingCore<R extends IncomingMessage = IncomingMessage> {
  /** The models served. */
  readonly registry: ModelRegistry;
  /** Requests being served now. */
  readonly inFlight: number;
  /** True once shutdown began. */
  readonly draining: boolean;
  /** Readiness of every model (all versions). */
  readiness(): Promise<ServerReadiness>;
  /** Readiness of one model (every rule of `readiness()`); `NOT_FOUND` for an unknown model or version. */
  readinessOf(name: string, version?: string): Promise<ModelReadiness>;
  /** `GET /v2/health/live`. */
  live(): ServingAnswer;
  /** `GET /v2/health/ready`. */
  ready(): Promise<ServingAnswer>;
  /** `GET /v2`. */
  serverMetadata(): ServingAnswer;
  /** `GET /v2/models/{name}[/versions/{version}]`. */
  metadata(exchange: ServingExchange<R>, name: string, version: string | undefined): Promise<ServingAnswer>;
  /** `GET /v2/models/{name}[/versions/{version}]/ready`. */
  modelReady(exchange: ServingExchange<R>, name: string, version: string | undefined): Promise<ServingAnswer>;
  /** `POST /v2/models/{name}[/versions/{version}]/infer`: authenticate → admit → decode → check → infer → filter → audit. */
  infer(exchange: ServingExchange<R>, name: string, version: string | undefined): Promise<ServingAnswer>;
  /**
   * `POST /v2/models/{name}[/versions/{version}]/generate`: the JSON body (less its `stream` field)
   * is the model input. When the client asks for a stream (`stream: true` in the body, or
   * `Accept: text/event-stream`) and the model has `stream()`, the core answers Server-Sent Events
   * itself (`answered: true`): a `data:` event per chunk, `event: end` with the usage, or
   * `event: error` with the error body when the stream fails after the first chunk. Otherwise
   * the answer is JSON `{ model_name, model_version?, output }`. Same flow, budget and audit line
   * as `infer`; the audit line carries the stream's `usage`.
   */
  generate(exchange: ServingExchange<R>, name: string, version: string | undefined): Promise<ServingAnswer>;
  /** Authenticates and authorizes `action` (no model): for routes an adapter mounts behind the guard. Undefined without a guard. */
  authenticate(request: R, action: GuardAction | false, model: string | undefined): Promise<GuardPrincipal | undefined>;
  /** The answer for anything thrown while serving `exchange` (reported by the one rule). */
  fail(exchange: HeaderedExchange<R>, error: unknown): ServingAnswer & { error: BallastError };
  /** Stops taking work, waits for in-flight requests (bounded), closes the server and the models. Returns the errors of `close()`. */
  shutdown(options?: ShutdownOptions): Promise<unknown[]>;
}

const RETRY_AFTER_MS = 1000;

/** What a route does with the drain, the guard and the audit log (see `serve` in the core). */
type RouteKind = 'infer' | 'generate' | 'read';

/**
 * One request on a model route, from the prologue to the audit line: a class, so the state of a
 * request is one object with a fixed shape rather than closures and option bags per request. It
 * is also the record `inferV2` writes the decoded input to, and the context its call options are
 * made from.
 */
class ServedRequest<R extends IncomingMessage> {
  /** When the request reached the core (`performance.now()`). */
  readonly startedAt = now();
  /** The request's deadline (`performance.now()`), set by the prologue. */
  deadline = 0;
  principal: GuardPrincipal | undefined = undefined;
  entry: RegisteredModel | undefined = undefined;
  /** The input the audit line hashes. */
  input: unknown = undefined;
  /** A streamed answer's usage, for the audit line. */
  usage: Usage | undefined = undefined;
  /** The model call's state, released once the request is answered (its connection's signal). */
  call: CallState | undefined = undefined;

  constructor(
    readonly exchange: ServingExchange<R>,
    readonly requestId: string,
    /** What the route does with the drain, the guard and the audit log. */
    readonly kind: RouteKind,
    /** Where the core's response headers go (see ServingExchange.setHeader). */
    readonly headers: HeaderTarget,
  ) {}

  get request(): R {
    return this.exchange.request;
  }

  get response(): ServerResponse {
    return this.exchange.response;
  }
}

/** What {@link ServingCore.fail} needs of a request: an exchange, or just its request and response. */
export type HeaderedExchange<R extends IncomingMessage = IncomingMessage> =
  | ServingExchange<R>
  | {
      readonly request: R;
      readonly response: ServerResponse;
      setHeader?(name: string, value: string): void;
      readonly headersSent?: boolean;
    };

// The response headers of an exchange go through its own writer when it has one (see
// ServingExchange.setHeader), else straight to the Node response.
function headerTargetOf(exchange: HeaderedExchange<IncomingMessage>): HeaderTarget {
  return exchange.setHeader !== undefined && exchange.headersSent !== undefined ? (exchange as HeaderTarget) : exchange.response;
}

/** The server metadata a v2 server answers (`GET /v2`). */
export interface V2ServerMetadata {
  /** The server's name. */
  name: string;
  /** The server's version. */
  version: string;
  /** The protocol extensions supported: `binary_tensor_data` (Triton's binary tensor data extension). */
  extensions: string[];
}

/**
 * The server metadata every adapter answers on `GET /v2`.
 *
 * @example
 * v2ServerMetadata(); // { name: 'ballast', version: '0.1.0', extensions: ['binary_tensor_data'] }
 */
export function v2ServerMetadata(): V2ServerMetadata {
  return { name: 'ballast', version: '0.1.0', extensions: ['binary_tensor_data'] };
}

/**
 * Builds the serving core the Express, Nest and Fastify adapters answer with: one registry, one
 * readiness rule, one bounded drain, one infer flow, one error body and one audit line.
 * Answers are plain `{ status, body, retryAfter }` for the adapter to write.
 *
 * @example
 * const core = createServingCore({ models: [fraud], guard });
 * const answer = await core.infer({ request, response, readBody }, 'fraud', undefined);
 */
export function createServingCore<R extends IncomingMessage = IncomingMessage>(options: ServingCoreOptions<R>): ServingCore<R> {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'serving expects an options object');
  const {
    guard,
    metadata = {},
    maxBatch = 4096,
    healthTimeoutMs = DEFAULT_HEALTH_TIMEOUT_MS,
    onError,
    readinessFollowsBreakers = false,
    log = console.error,
  } = options;
  const protectMetadata = options.protectMetadata ?? guard !== undefined;
  const registry = new ModelRegistry(options.models, options.owner);
  // Breaker states as the resilience middleware report them, so readiness sees open breakers.
  const breakers: OpenBreakers = trackOpenBreakers();
  let modelsClosed = false;
  const drain = new Drain();
  const overrideOf = (name: string) => (Object.hasOwn(metadata, name) ? metadata[name] : undefined);

  const readinessOf = (name: string, entry: RegisteredModel) =>
    modelReadiness(name, entry.original, {
      draining: drain.draining,
      breakers,
      followBreakers: readinessFollowsBreakers,
      healthTimeoutMs,
    });

  const authenticate = async (request: R, action: GuardAction | false, model: string | undefined) => {
    if (guard === undefined || action === false) return undefined;
    const principal = await guard.authenticate(request);
    guard.authorize(principal, action, model);
    return principal;
  };

  const fail = (exchange: HeaderedExchange<R>, error: unknown) => {
    const ballast = toHttpError(error);
    const status = answerStatus(ballast);
    const headers = headerTargetOf(exchange);
    // During shutdown, and after a body that stopped arriving (the rest may never come), the
    // answer closes its connection.
    const stalled = ballast.code === 'TIMEOUT' && ballast.details?.reason === BODY_TIMEOUT_REASON;
    if ((drain.draining || stalled) && !headers.headersSent) headers.setHeader('Connection', 'close');
    reportServedError(ballast, exchange.request, requestIdOf(exchange.request, headers, options.requestIdHeader), onError, log);
    if (!headers.headersSent) headers.setHeader(ERROR_CODE_HEADER, ballast.code);
    const path = (exchange.request as IncomingMessage & { originalUrl?: string }).originalUrl ?? exchange.request.url;
    const answer: ServingAnswer & { error: BallastError } = { status, body: errorBodyFor(ballast, path), error: ballast };
    if (status === 429 || status === 503) answer.retryAfter = String(retryAfterSeconds(ballast.retryAfterMs));
    return answer;
  };

  const readiness = async (): Promise<ServerReadiness> => {
    const models: Record<string, ModelReadiness> = {};
    await Promise.all(
      registry.names().map(async (name) => {
        const versions = registry.versionsOf(name);
        // Every version counts the same way: a request may name any of them.
        const states = await Promise.all(versions.map((entry) => readinessOf(name, entry)));
        const index = states.findIndex((state) => !state.ready);
        if (index === -1) models[name] = { ready: true };
        else {
          const state = states[index] as ModelReadiness;
          const version = versions[index]?.original.version;
          models[name] =
            versions.length > 1 && version !== undefined ? { ready: false, reason: `version "${version}": ${state.reason}` } : state;
        }
      }),
    );
    return { ready: !drain.draining && Object.values(models).every((m) => m.ready), models };
  };

  // Made once: a single row has no siblings to stop on failure, so it may share the
  // connection's disconnect signal (see createCallState).
  const startCall = (single: boolean, context: unknown) => {
    const served = context as ServedRequest<R>;
    const call = createCallState(served.request, served.response, options, served.principal, single, served.deadline, served);
    served.call = call;
    return call;
  };

  /*
   * Every model route runs one prologue, its own work, then one epilogue: the request id, the
   * drain (model work is counted and refused once shutdown began; metadata and readiness are
   * not), the budget (reading the body counts against it: 408 when a slow body spends it),
   * authentication, the model, admission; then the route's work; then the one error answer and
   * the one audit line. Runs under `around` (trace context). The request's state is one object,
   * not closures, and what the route's work needs travels in it. The prologue and epilogue are
   * plain functions, so a route's whole request is one async function (see serveInfer).
   */
  const aroundOf = (exchange: ServingExchange<R>, run: () => Promise<ServingAnswer>): Promise<ServingAnswer> => {
    const around = options.around as NonNullable<ServeOptions<R>['around']>;
    if (exchange.respond === undefined) return around(exchange.request, run);
    // The route's promise must not reject for an exchange that responds: a failure of `around`
    // itself (the route's own are answered inside `run`) is answered here, unless `run` already
    // answered (then it is only reported).
    return promised(() => around(exchange.request, run)).catch((error: unknown) => {
      const failure = fail(exchange, error);
      if (!exchange.response.headersSent) deliver(exchange, failure);
      return failure;
    });
  };

  // The request's state, with its id; model work is counted by the drain from here.
  const open = (exchange: ServingExchange<R>, kind: RouteKind): ServedRequest<R> => {
    const headers = headerTargetOf(exchange);
    const served = new ServedRequest(exchange, requestIdOf(exchange.request, headers, options.requestIdHeader), kind, headers);
    if (kind !== 'read') drain.enter();
    return served;
  };

  // The checks before the route's work; a promise only when authentication or admission waits
  // (a cached key and an in-process limiter answer at once: no tick spent on a promise).
  const admit = (served: ServedRequest<R>, name: string, version: string | undefined): Promise<void> | undefined => {
    // During shutdown every answer closes its connection, so keep-alive clients reconnect (to
    // another replica) instead of reusing a connection the server is about to close.
    if (drain.draining) {
      served.headers.setHeader('Connection', 'close');
      if (served.kind !== 'read')
        throw new BallastError('MODEL_UNAVAILABLE', 'the server is shutting down', { retryAfterMs: RETRY_AFTER_MS });
    }
    served.deadline = served.startedAt + requestBudgetMs(served.request, options as ServeOptions<never>);
    const action = guard === undefined ? false : served.kind === 'read' ? (protectMetadata ? 'read' : false) : 'infer';
    if (action === false) return admitTo(served, name, version, false, undefined);
    const authenticated = (guard as Guard).authenticateNow(served.request);
    if (authenticated instanceof Promise) return authenticated.then((principal) => admitTo(served, name, version, action, principal));
    return admitTo(served, name, version, action, authenticated);
  };

  // The rest of the prologue, once the principal is known (`action` false: no guard applies).
  const admitTo = (
    served: ServedRequest<R>,
    name: string,
    version: string | undefined,
    action: GuardAction | false,
    principal: GuardPrincipal | undefined,
  ): Promise<void> | undefined => {
    if (action !== false) {
      served.principal = principal;
      (guard as Guard).authorize(principal as GuardPrincipal, action, name);
    }
    served.entry = registry.resolve(name, version);
    if (served.kind === 'read' || principal === undefined) return undefined;
    // In-process limiters answer synchronously: no promise hop unless the limiter is shared.
    return (guard as Guard).admit(principal, name) as Promise<void> | undefined;
  };

  // After the route's work, answered or failed: the call state is released and the drain's
  // count ended (called in `finally`).
  const release = (served: ServedRequest<R>): void => {
    if (served.call !== undefined) releaseCallState(served.call);
    if (served.kind !== 'read') drain.leave();
  };

  // The epilogue of an answer: `Connection: close` during shutdown, and the audit line.
  const conclude = (served: ServedRequest<R>, name: string, answer: ServingAnswer & { error?: BallastError }): ServingAnswer => {
    if (drain.draining && !served.headers.headersSent) served.headers.setHeader('Connection', 'close');
    if (served.kind !== 'read' && guard?.auditLog !== undefined) {
      const { principal } = served;
      const audit: RequestAudit = {
        requestId: served.requestId,
        principal: principal?.id,
        keyId: principal?.keyId,
        action: 'infer',
        model: name,
        version: served.entry?.original.version,
        outcome: answer.error?.code ?? 'ok',
        status: answer.status,
        startedAt: served.startedAt,
        input: served.input,
      };
      if (served.usage !== undefined) audit.usage = served.usage;
      auditRequest(guard, audit);
    }
    return answer;
  };

  // The end of every model route: the epilogue, then, when the exchange writes answers itself,
  // the answer handed to it. With `respond` nothing here throws (`fail` does not: reporting
  // never throws), since the adapter does not wait on the route's promise and a rejection would
  // go unhandled (see ServingExchange.respond).
  const finish = (served: ServedRequest<R>, name: string, answer: ServingAnswer & { error?: BallastError }): ServingAnswer => {
    const { exchange } = served;
    if (exchange.respond === undefined) return conclude(served, name, answer);
    let final: ServingAnswer;
    try {
      final = conclude(served, name, answer);
    } catch (error) {
      // The audit line could not be written: answered as any failure of the request is.
      final = fail(exchange, error);
    }
    return deliver(exchange, final);
  };

  // Hands an answer to the exchange's `respond`; one it cannot write (JSON cannot hold a bigint)
  // is replaced by the error answer, and if that fails too the response is destroyed.
  const deliver = (exchange: ServingExchange<R>, answer: ServingAnswer): ServingAnswer => {
    const respond = exchange.respond as NonNullable<ServingExchange<R>['respond']>;
    try {
      respond.call(exchange, answer);
      return answer;
    } catch (error) {
      const failure = fail(exchange, error);
      try {
        respond.call(exchange, failure);
      } catch {
        exchange.response.destroy();
      }
      return failure;
    }
  };

  // A route whose work is a function of its own (generate, metadata, model readiness).
  const serve = (
    exchange: ServingExchange<R>,
    kind: RouteKind,
    name: string,
    version: string | undefined,
    work: (served: ServedRequest<R>) => Promise<ServingAnswer>,
  ): Promise<ServingAnswer> => {
    if (options.around === undefined) return serveNow(exchange, kind, name, version, work);
    return aroundOf(exchange, () => serveNow(exchange, kind, name, version, work));
  };

  const serveNow = async (
    exchange: ServingExchange<R>,
    kind: RouteKind,
    name: string,
    version: string | undefined,
    work: (served: ServedRequest<R>) => Promise<ServingAnswer>,
  ): Promise<ServingAnswer> => {
    const served = open(exchange, kind);
    let answer: ServingAnswer & { error?: BallastError };
    try {
      const admitting = admit(served, name, version);
      if (admitting !== undefined) await admitting;
      answer = await work(served);
    } catch (error) {
      answer = fail(exchange, error);
    } finally {
      release(served);
    }
    return finish(served, name, answer);
  };

  /*
   * The v2 infer route: the prologue, inferV2's steps, the epilogue, in one async function (the
   * busiest route: a second async function for its work cost a promise, a suspended frame and a
   * tick per request, about 0.4 KB of garbage). The request waits only on its body (when it
   * is not in yet), on the guard's checks that are promises, and on its model.
   */
  const serveInfer = async (exchange: ServingExchange<R>, name: string, version: string | undefined): Promise<ServingAnswer> => {
    const served = open(exchange, 'infer');
    let answer: ServingAnswer & { error?: BallastError };
    try {
      const admitting = admit(served, name, version);
      if (admitting !== undefined) await admitting;
      const entry = served.entry as RegisteredModel;
      const model = entry.original.name;
      const read = exchange.readBody(guard?.maxBodyBytes(model), served.deadline);
      const body = read instanceof Promise ? await read : read;
      const v2: InferV2Options = {
        name: model,
        version: entry.original.version,
        guard,
        maxBatch,
        inputs: registry.declaredInputs(entry, overrideOf(model)),
        perExample: registry.perExample(entry),
        record: served,
        call: startCall,
        context: served,
      };
      const prepared = prepareV2(body, v2);
      const decoded = prepared instanceof Promise ? await prepared : (prepared as DecodedV2Request);
      const encoded = encodeV2Answer(answerV2(decoded, await callV2(entry.served, decoded, v2), v2), body);
      if (encoded.json !== undefined) answer = { status: 200, body: encoded.json };
      else {
        const headers: Record<string, string> = { 'content-type': encoded.contentType };
        if (encoded.headerLength !== undefined) headers[V2_HEADER_LENGTH] = String(encoded.headerLength);
        answer = { status: 200, body: encoded.bytes, headers };
      }
    } catch (error) {
      answer = fail(exchange, error);
    } finally {
      release(served);
    }
    return finish(served, name, answer);
  };

  const generateWork = async (served: ServedRequest<R>): Promise<ServingAnswer> => {
    const { request, response } = served.exchange;
    const entry = served.entry as RegisteredModel;
    const name = entry.original.name;
    const read = served.exchange.readBody(guard?.maxBodyBytes(name), served.deadline);
    const body = read instanceof Promise ? await read : read;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BallastError('INVALID_INPUT', 'the generate body must be a JSON object');
    const streaming = wantsEventStream(request, body) && entry.served.stream !== undefined;
    const { stream: _stream, ...fields } = body as Record<string, unknown>;
    served.input = fields;
    const checked = guard === undefined ? fields : await guard.checkInput(name, fields);
    const call = createCallState(request, response, options, served.principal, false, served.deadline, served);
    if (streaming) {
      const raw = (entry.served.stream as NonNullable<Model['stream']>)(checked, call.options);
      // The guard's output redaction applies to streamed text as to JSON answers.
      const stream = guard === undefined ? raw : guard.filterStream(name, raw);
      // Throws before the first chunk: answered as a JSON error with its status.
      const outcome = await sendEventStream(response, stream);
      served.usage = outcome.usage;
      const answer: ServingAnswer & { error?: BallastError } = { status: 200, body: undefined, answered: true };
      if (outcome.error !== undefined) {
        answer.error = outcome.error;
        reportServedError(outcome.error, request, served.requestId, onError, log);
      }
      return answer;
    }
    const output = await entry.served.infer(checked, call.options);
    const result: Record<string, unknown> = { model_name: name };
    if (entry.original.version !== undefined) result.model_version = entry.original.version;
    result.output = output;
    return { status: 200, body: guard === undefined ? result : guard.filterOutput(name, result) };
  };

  const metadataWork = async (served: ServedRequest<R>): Promise<ServingAnswer> => {
    const entry = served.entry as RegisteredModel;
    const body: V2ModelMetadata = registry.metadata(entry.original.name, entry.original.version, overrideOf(entry.original.name));
    return { status: 200, body };
  };

  const modelReadyWork = async (served: ServedRequest<R>): Promise<ServingAnswer> => {
    const entry = served.entry as RegisteredModel;
    const name = entry.original.name;
    const state = await readinessOf(name, entry);
    const body: Record<string, unknown> = { name };
    if (entry.original.version !== undefined) body.version = entry.original.version;
    Object.assign(body, state);
    return state.ready ? { status: 200, body } : { status: 503, body, retryAfter: String(RETRY_AFTER_MS / 1000) };
  };

  const core: ServingCore<R> = {
    registry,
    get inFlight() {
      return drain.inFlight;
    },
    get draining() {
      return drain.draining;
    },
    readiness,
    live: () => ({ status: 200, body: { live: true } }),
    ready: async () => {
      const state = await readiness();
      return state.ready ? { status: 200, body: state } : { status: 503, body: state, retryAfter: String(RETRY_AFTER_MS / 1000) };
    },
    serverMetadata: () => ({ status: 200, body: v2ServerMetadata() }),
    metadata: (exchange, name, version) => serve(exchange, 'read', name, version, metadataWork),
    modelReady: (exchange, name, version) => serve(exchange, 'read', name, version, modelReadyWork),
    readinessOf: (name, version) => readinessOf(name, registry.resolve(name, version)),
    infer: (exchange, name, version) =>
      options.around === undefined ? serveInfer(exchange, name, version) : aroundOf(exchange, () => serveInfer(exchange, name, version)),
    generate: (exchange, name, version) => serve(exchange, 'generate', name, version, generateWork),
    authenticate,
    fail,
    shutdown: async (shutdown = {}) => {
      const { server, drainTimeoutMs = 10_000, closeModels = true } = shutdown;
      drain.begin();
      breakers.stop();
      const endsAt = Date.now() + drainTimeoutMs;
      await drain.settled(drainTimeoutMs);
      if (server !== undefined) await closeServer(server, endsAt);
      const errors: unknown[] = [];
      // Every model closes once, however many times shutdown is called.
      if (closeModels && !modelsClosed) {
        modelsClosed = true;
        const results = await Promise.allSettled(registry.all().map((entry) => entry.original.close?.()));
        for (const result of results) if (result.status === 'rejected') errors.push(result.reason);
      }
      return errors;
    },
  };
  return core;
}
