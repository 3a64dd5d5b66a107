import type { Server } from 'node:http';
import { BallastError, type HealthReport, type Model, now, pipeline, type V2InferResponse } from '@ballast/core';
import type { GuardAction, GuardPrincipal } from '@ballast/guard';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { breakerUnreadiness, trackOpenBreakers } from './breakers.js';
import { errorHandler, reportServedError, sendError } from './errors.js';
import {
  auditRequest,
  createCallState,
  readJson,
  requestBudgetMs,
  requestId,
  requestIdOf,
  type ServeOptions,
  sendJsonAnswer,
} from './http-context.js';
import { MOUNT_AUTHORIZE } from './rollout-admin.js';
import { decodeV2Request, encodeV2Outputs, specsToV2, type V2ModelMetadata, type V2TensorMetadata } from './v2.js';

/** Extra metadata for a model's `GET /v2/models/{name}` answer, when the model cannot describe itself. */
export interface ModelMetadataOverride {
  /** Platform string. Default `ballast` (`onnxruntime` for models that expose ONNX tensor specs). */
  platform?: string;
  /** Input tensors. */
  inputs?: V2TensorMetadata[];
  /** Output tensors. */
  outputs?: V2TensorMetadata[];
}

/** A router mounted inside the Ballast router, behind authentication and an action check. */
export interface MountedRouter {
  /** Path prefix, e.g. `/admin`. */
  path: string;
  /** The Express router or handler. */
  handler: RequestHandler | Router;
  /** The action a principal needs (checked without a model). Default `admin`. `false` mounts it without authentication. */
  action?: GuardAction | false;
}

/** Options of {@link ballastRouter}. */
export interface BallastRouterOptions extends ServeOptions {
  /** The models served, by their `name` (several entries with one name are versions; the first is the default). */
  models: readonly Model[] | Readonly<Record<string, Model>>;
  /** Metadata for models that do not expose `inputs`/`outputs` tensor specs, by model name. */
  metadata?: Record<string, ModelMetadataOverride>;
  /** Most rows one v2 request may carry. Default 4096. */
  maxBatch?: number;
  /** Require a principal with `read` on the model for metadata and model readiness. Default true with a guard. */
  protectMetadata?: boolean;
  /** How long a model's `health()` may take before it counts as not ready, ms. Default 2000. */
  healthTimeoutMs?: number;
  /** Routers mounted behind authentication (admin routes, your own endpoints). More can be added with `router.mount()`. */
  mount?: readonly MountedRouter[];
  /**
   * Called with every error answered with a 5xx, on every route (mounted routers and the error
   * handler included). Replaces the default report, which logs each 500 answer (`INTERNAL`,
   * `CONFIG`, `INTEGRITY`) to stderr with its request id.
   */
  onError?: (error: BallastError, request: Request) => void;
  /**
   * Tie readiness to circuit breakers: a model whose breaker is open is not ready even when a
   * fallback chain answers for it. Default false: a model is ready while it can answer, so a client
   * with a fallback stays ready with its breaker open (a shared upstream outage would otherwise
   * take every replica out of the load balancer at once). Keyed breakers never change readiness.
   */
  readinessFollowsBreakers?: boolean;
}

/** Options of {@link BallastRouter.shutdown}. */
export interface ShutdownOptions {
  /** An HTTP server to stop accepting connections (closed once in-flight requests drained). */
  server?: Server;
  /**
   * Longest wait for in-flight requests, ms. When it runs out the server's remaining connections
   * are closed (requests still running, slow bodies, keep-alive clients) and the models close.
   * Default 10,000.
   */
  drainTimeoutMs?: number;
  /** Close the served models after draining. Default true. */
  closeModels?: boolean;
}

/** The router: an Express router plus readiness and graceful shutdown. */
export interface BallastRouter extends Router {
  /** Mounts another router behind authentication and an action check (before the error handler). */
  mount(route: MountedRouter): void;
  /** Whether every model is ready (health, not shutting down, and no open breaker without a fallback; see `readinessFollowsBreakers`). */
  readiness(): Promise<{ ready: boolean; models: Record<string, { ready: boolean; reason?: string }> }>;
  /** Requests being served now. */
  readonly inFlight: number;
  /**
   * Stops taking work (readiness and new requests answer 503 with `Retry-After`), waits for
   * in-flight requests, then closes the server (if given) and the models.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

interface Entry {
  /** The model as given (metadata, health, close). */
  original: Model;
  /** The model under one budget (pipeline): what requests call. */
  served: Model;
  /** The model's `inputs` specs last turned into v2 metadata, and the result (see `declaredInputs`). */
  inputSpecs?: unknown;
  inputsV2?: V2TensorMetadata[];
}

const DEFAULT_RETRY_AFTER_MS = 1000;

/**
 * An Express router serving models over the Open Inference Protocol v2 (the REST protocol of
 * KServe and Triton): `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2/models/{name}[/versions/{v}]`,
 * `GET …/ready` and `POST …/infer`, with authentication, authorization, per-principal limits,
 * input and output guards and audit from `guard`, request ids, and errors as JSON.
 *
 * @example
 * const router = ballastRouter({ models: [fraud], guard });
 * app.use(router);
 * const server = app.listen(8080);
 * process.on('SIGTERM', () => router.shutdown({ server }));
 */
export function ballastRouter(options: BallastRouterOptions): BallastRouter {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'ballastRouter expects an options object');
  const { guard, metadata = {}, maxBatch = 4096, healthTimeoutMs = 2000, onError, readinessFollowsBreakers = false } = options;
  const protectMetadata = options.protectMetadata ?? guard !== undefined;
  const list = Array.isArray(options.models) ? (options.models as Model[]) : Object.values(options.models ?? {});
  if (list.length === 0)
    throw new BallastError('CONFIG', 'ballastRouter: "models" must name at least one model', { details: { path: 'models' } });
  const registry = new Map<string, Entry[]>();
  for (const [index, model] of list.entries()) {
    if (typeof model?.infer !== 'function' || typeof model.name !== 'string') {
      throw new BallastError('CONFIG', `ballastRouter: models[${index}] is not a Model`, { details: { path: `models[${index}]` } });
    }
    const entries = registry.get(model.name) ?? [];
    entries.push({ original: model, served: pipeline(model) });
    registry.set(model.name, entries);
  }

  // Breaker states as the resilience middleware report them, so readiness sees open breakers.
  const breakers = trackOpenBreakers();

  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const enter = () => {
    inFlight++;
  };
  const leave = () => {
    inFlight--;
    if (inFlight === 0 && drained !== undefined) drained();
  };

  const resolve = (name: string, version: string | undefined): Entry => {
    const entries = registry.get(name);
    const entry = version === undefined ? entries?.[0] : entries?.find((e) => e.original.version === version);
    if (entry === undefined) {
      throw new BallastError(
        'NOT_FOUND',
        version === undefined ? `unknown model "${name}"` : `unknown model "${name}" version "${version}"`,
        {
          details: { model: name, ...(version === undefined ? {} : { version }) },
        },
      );
    }
    return entry;
  };

  const guardAuthorize =
    guard === undefined
      ? undefined
      : (principal: GuardPrincipal | undefined, action: GuardAction, model: string | undefined) =>
          guard.authorize(principal, action, model);

  const authenticate = async (
    request: Request,
    action: GuardAction | false,
    model: string | undefined,
  ): Promise<GuardPrincipal | undefined> => {
    if (guard === undefined || action === false) return undefined;
    const principal = await guard.authenticate(request);
    guard.authorize(principal, action, model);
    return principal;
  };

  const modelReadiness = async (name: string, entry: Entry): Promise<{ ready: boolean; reason?: string }> => {
    if (draining) return { ready: false, reason: 'shutting down' };
    const breaker = breakerUnreadiness(breakers, name, entry.original, readinessFollowsBreakers);
    if (breaker !== undefined) return { ready: false, reason: breaker };
    const health = entry.original.health;
    if (health === undefined) return { ready: true };
    let timer: NodeJS.Timeout | undefined;
    try {
      const report = await Promise.race([
        health.call(entry.original),
        new Promise<HealthReport>((_, reject) => {
          timer = setTimeout(() => reject(new Error('health check timed out')), healthTimeoutMs);
        }),
      ]);
      return report.ready ? { ready: true } : { ready: false, reason: report.message ?? report.status };
    } catch (error) {
      return { ready: false, reason: error instanceof Error ? error.message : 'health check failed' };
    } finally {
      clearTimeout(timer);
    }
  };

  const readiness = async () => {
    const models: Record<string, { ready: boolean; reason?: string }> = {};
    await Promise.all(
      [...registry].map(async ([name, entries]) => {
        models[name] = await modelReadiness(name, entries[0] as Entry);
      }),
    );
    return { ready: !draining && Object.values(models).every((m) => m.ready), models };
  };

  // The inputs a model declares (its v2 metadata): what a request's datatypes are checked against.
  const declaredInputs = (name: string, entry: Entry): V2TensorMetadata[] | undefined => {
    const override = Object.hasOwn(metadata, name) ? metadata[name] : undefined;
    if (override?.inputs !== undefined) return override.inputs;
    const described = (entry.original as Model & { inputs?: unknown }).inputs;
    if (!Array.isArray(described)) return undefined;
    // Converted once per specs array (a reloaded model brings a new one), not on every request.
    if (entry.inputSpecs !== described) {
      entry.inputsV2 = specsToV2(described as never);
      entry.inputSpecs = described;
    }
    return entry.inputsV2;
  };

  const router = express.Router() as BallastRouter;
  router.use(requestId({ ...(options.requestIdHeader === undefined ? {} : { header: options.requestIdHeader }) }));

  // Wraps an async route: errors become JSON answers; `around` (trace context) wraps the work.
  const route =
    (work: (request: Request, res: Response) => Promise<void>): RequestHandler =>
    (request, res) => {
      // During shutdown every answer closes its connection, so keep-alive clients reconnect (to
      // another replica) instead of reusing a connection the server is about to close. Checked
      // here rather than in a middleware of its own: each Express layer costs every request.
      if (draining) res.setHeader('Connection', 'close');
      // Inline callbacks, no named closure per request (tools that keep function names would
      // add an Object.defineProperty per request to each).
      if (options.around !== undefined)
        return options.around(request, () => work(request, res).catch((error) => reportError(request, res, error)));
      return work(request, res).catch((error) => reportError(request, res, error));
    };
  const reportError = (request: Request, res: Response, error: unknown): BallastError => {
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    const sent = sendError(res, error);
    reportServedError(sent, request, requestIdOf(request, res, options.requestIdHeader), onError);
    return sent;
  };
  const rejectWhileDraining = () => {
    if (draining) throw new BallastError('MODEL_UNAVAILABLE', 'the server is shutting down', { retryAfterMs: DEFAULT_RETRY_AFTER_MS });
  };

  const modelPath = '/v2/models/:name{/versions/:version}';

  // The infer route comes first: it is the hot path, and Express tries every earlier layer's path
  // pattern on each request. Methods and paths of the routes do not overlap, so order is free.
  router.post(
    `${modelPath}/infer`,
    route(async (request, res) => {
      enter();
      const startedAt = now();
      const name = String(request.params.name);
      let principal: GuardPrincipal | undefined;
      let entry: Entry | undefined;
      let input: unknown;
      let outcome: BallastError | undefined;
      try {
        rejectWhileDraining();
        principal = await authenticate(request, 'infer', name);
        entry = resolve(name, request.params.version as string | undefined);
        if (guard !== undefined && principal !== undefined) await guard.admit(principal, name);
        // Reading the body counts against the request's budget (408 when a slow body spends it).
        const deadline = startedAt + requestBudgetMs(request, options);
        const body = await readJson(request, res, guard?.maxBodyBytes(name), deadline);
        const decoded = decodeV2Request(body, { maxBatch, inputs: declaredInputs(name, entry) });
        input = decoded.view;
        if (guard !== undefined) await guard.checkInput(name, decoded.view);
        // A single row has no siblings to stop on failure, so it may share the connection's
        // disconnect signal (see createCallState).
        const call = createCallState(request, res, options, principal, decoded.batch === 1, deadline);
        const served = entry.served;
        let rows: unknown[];
        try {
          rows =
            decoded.batch === 1
              ? [await served.infer(decoded.rows[0] as Record<string, unknown>, call.options)]
              : await Promise.all(decoded.rows.map((row) => served.infer(row, call.options)));
        } catch (error) {
          // Stop the sibling rows of a failed request (a single row has none; its controller
          // may be the connection's, which must stay usable).
          if (decoded.batch !== 1) call.controller.abort(error);
          throw error;
        }
        // Built field by field in the answer's order: a conditional `...spread` takes V8's
        // generic (slow) path, about 1 µs each, on every request.
        const outputs = encodeV2Outputs(rows, decoded.outputs);
        let response = { model_name: name } as V2InferResponse;
        if (entry.original.version !== undefined) response.model_version = entry.original.version;
        if (decoded.id !== undefined) response.id = decoded.id;
        response.outputs = outputs;
        if (guard !== undefined) response = guard.filterOutput(name, response);
        if (draining) res.setHeader('Connection', 'close');
        sendJsonAnswer(request, res, response);
      } catch (error) {
        outcome = reportError(request, res, error);
      } finally {
        leave();
        if (guard?.auditLog !== undefined)
          auditRequest(guard, {
            requestId: requestIdOf(request, res, options.requestIdHeader),
            principal: principal?.id,
            keyId: principal?.keyId,
            action: 'infer',
            model: name,
            version: entry?.original.version,
            outcome: outcome?.code ?? 'ok',
            status: res.statusCode,
            startedAt,
            input,
          });
      }
    }),
  );

  router.get(
    '/v2/health/live',
    route(async (_request, res) => {
      res.json({ live: true });
    }),
  );

  router.get(
    '/v2/health/ready',
    route(async (_request, res) => {
      const state = await readiness();
      if (!state.ready) res.setHeader('Retry-After', String(DEFAULT_RETRY_AFTER_MS / 1000));
      res.status(state.ready ? 200 : 503).json(state);
    }),
  );

  router.get(
    '/v2',
    route(async (_request, res) => {
      res.json({ name: 'ballast', version: '0.1.0', extensions: [] });
    }),
  );

  router.get(
    `${modelPath}/ready`,
    route(async (request, res) => {
      const name = String(request.params.name);
      await authenticate(request, protectMetadata ? 'read' : false, name);
      const entry = resolve(name, request.params.version as string | undefined);
      const state = await modelReadiness(name, entry);
      if (!state.ready) res.setHeader('Retry-After', String(DEFAULT_RETRY_AFTER_MS / 1000));
      res.status(state.ready ? 200 : 503).json({ name, ...(entry.original.version ? { version: entry.original.version } : {}), ...state });
    }),
  );

  router.get(
    modelPath,
    route(async (request, res) => {
      const name = String(request.params.name);
      await authenticate(request, protectMetadata ? 'read' : false, name);
      const entry = resolve(name, request.params.version as string | undefined);
      const described = entry.original as Model & { inputs?: unknown; outputs?: unknown };
      const override = Object.hasOwn(metadata, name) ? metadata[name] : undefined;
      const inputs = declaredInputs(name, entry) ?? [];
      const outputs = override?.outputs ?? specsToV2(described.outputs as never);
      const versions = (registry.get(name) ?? []).map((e) => e.original.version).filter((v): v is string => v !== undefined);
      const body: V2ModelMetadata = {
        name,
        ...(versions.length > 0 ? { versions } : {}),
        platform: override?.platform ?? (Array.isArray(described.inputs) ? 'onnxruntime' : 'ballast'),
        inputs,
        outputs,
      };
      res.json(body);
    }),
  );

  // Routers mounted before the /v2 catch-all and the error handler, behind authentication.
  const mounted = express.Router();
  router.use(mounted);
  router.mount = (mount: MountedRouter) => {
    if (typeof mount?.path !== 'string' || !mount.path.startsWith('/') || mount.handler === undefined) {
      throw new BallastError('CONFIG', 'ballastRouter.mount: expects { path: "/…", handler }', { details: { path: 'mount' } });
    }
    const action = mount.action ?? 'admin';
    const gate: RequestHandler = (request, res, next: NextFunction) => {
      if (draining) res.setHeader('Connection', 'close');
      authenticate(request, action, undefined).then(
        (principal) => {
          if (principal !== undefined) {
            res.locals.principal = principal;
            // Mounted routers that check permissions per operation (rolloutAdminRoutes) use the
            // guard's role policy too, not role names of their own.
            if (guardAuthorize !== undefined) res.locals[MOUNT_AUTHORIZE] = guardAuthorize;
          }
          next();
        },
        (error) => reportError(request, res, error),
      );
    };
    mounted.use(mount.path, gate, mount.handler);
  };
  for (const mount of options.mount ?? []) router.mount(mount);

  router.use(
    '/v2',
    route(async (request) => {
      throw new BallastError('NOT_FOUND', `no route ${request.method} ${request.baseUrl}${request.path}`);
    }),
  );
  router.use(
    errorHandler({
      ...(onError === undefined ? {} : { onError: (error, request) => onError(error, request as Request) }),
      ...(options.requestIdHeader === undefined ? {} : { requestIdHeader: options.requestIdHeader }),
    }),
  );

  Object.defineProperty(router, 'inFlight', { get: () => inFlight });
  router.readiness = readiness;
  router.shutdown = async (shutdown: ShutdownOptions = {}) => {
    const { server, drainTimeoutMs = 10_000, closeModels = true } = shutdown;
    draining = true;
    breakers.stop();
    const drainEnds = Date.now() + drainTimeoutMs;
    if (inFlight > 0) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, drainTimeoutMs);
        drained = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
    if (server !== undefined) {
      // server.close() waits for every open connection; a client holding one (a body sent half
      // way, a keep-alive connection busy again) would hold the shutdown until it gives up. What is
      // still open when the drain time is over gets closed.
      await new Promise<void>((done) => {
        const timer = setTimeout(() => server.closeAllConnections?.(), Math.max(0, drainEnds - Date.now()));
        server.close(() => {
          clearTimeout(timer);
          done();
        });
        server.closeIdleConnections?.();
      });
    }
    if (closeModels) {
      const originals = [...registry.values()].flat().map((e) => e.original);
      await Promise.allSettled(originals.map((m) => m.close?.()));
    }
  };
  return router;
}
