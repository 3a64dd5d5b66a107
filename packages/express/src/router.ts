import { BallastError, type Model } from '@ballast/core';
import { DEFAULT_MAX_BODY_BYTES, type GuardAction, type GuardPrincipal } from '@ballast/guard';
import {
  createServingCore,
  type ModelMetadataOverride,
  readJsonBodyNow,
  type ServingAnswer,
  type ServingExchange,
  type ShutdownOptions,
} from '@ballast/serving';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { errorHandler } from './errors.js';
import { requestId, type ServeOptions, sendJsonAnswer } from './http-context.js';
import { MOUNT_AUTHORIZE } from './rollout-admin.js';

export type { ModelMetadataOverride, ShutdownOptions };

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

/**
 * The exchange the core reads: Express's request and response (both node:http objects) and the
 * core's body reader (exact 64-bit integers, the binary tensor data extension), unless a parser of
 * the app read the body first. A class, so `readBody` is on the prototype, not a closure per request.
 */
class ExpressExchange implements ServingExchange<Request> {
  constructor(
    readonly request: Request,
    readonly response: Response,
  ) {}

  readBody(limitBytes: number | undefined, deadline: number): unknown {
    if (this.request.body !== undefined) return this.request.body;
    return readJsonBodyNow(this.request, limitBytes ?? DEFAULT_MAX_BODY_BYTES, deadline);
  }
}

/**
 * An Express router serving models over the Open Inference Protocol v2 (the REST protocol of
 * KServe and Triton): `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2/models/{name}[/versions/{v}]`,
 * `GET …/ready` and `POST …/infer`, with authentication, authorization, per-principal limits,
 * input and output guards and audit from `guard`, request ids, and errors as JSON. A thin adapter:
 * every answer comes from the serving core (`@ballast/serving`).
 *
 * @example
 * const router = ballastRouter({ models: [fraud], guard });
 * app.use(router);
 * const server = app.listen(8080);
 * process.on('SIGTERM', () => router.shutdown({ server }));
 */
export function ballastRouter(options: BallastRouterOptions): BallastRouter {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'ballastRouter expects an options object');
  const core = createServingCore<Request>({ ...options, owner: 'ballastRouter' });
  const { guard, onError } = options;
  const guardAuthorize =
    guard === undefined
      ? undefined
      : (principal: GuardPrincipal | undefined, action: GuardAction, model: string | undefined) =>
          guard.authorize(principal, action, model);

  const exchangeOf = (request: Request, res: Response): ServingExchange<Request> => new ExpressExchange(request, res);
  const send = (request: Request, res: Response, answer: ServingAnswer): void => {
    if (answer.answered === true) return;
    if (res.headersSent) {
      // Too late for a status: end the response so the client is not left waiting.
      res.end();
      return;
    }
    if (answer.retryAfter !== undefined) res.setHeader('Retry-After', answer.retryAfter);
    if (answer.headers !== undefined) {
      // Bytes written as they are (binary tensor data, or JSON with exact 64-bit integers).
      for (const key in answer.headers) res.setHeader(key, answer.headers[key] as string);
      res.status(answer.status).end(answer.body as Buffer);
    } else if (answer.status === 200) sendJsonAnswer(request, res, answer.body);
    else res.status(answer.status).json(answer.body);
  };
  // Wraps a route answered by the core.
  const route =
    (answer: (request: Request, res: Response) => ServingAnswer | Promise<ServingAnswer>): RequestHandler =>
    (request, res) => {
      // During shutdown every answer closes its connection (keep-alive clients reconnect elsewhere).
      if (core.draining) res.setHeader('Connection', 'close');
      const result = answer(request, res);
      if (result instanceof Promise) return result.then((value) => send(request, res, value));
      send(request, res, result);
    };
  const version = (request: Request) => request.params.version as string | undefined;

  const router = express.Router() as BallastRouter;
  router.use(requestId({ ...(options.requestIdHeader === undefined ? {} : { header: options.requestIdHeader }) }));

  const modelPath = '/v2/models/:name{/versions/:version}';

  // The infer route comes first: it is the hot path, and Express tries every earlier layer's path
  // pattern on each request. Methods and paths of the routes do not overlap, so order is free.
  router.post(
    `${modelPath}/infer`,
    route((request, res) => core.infer(exchangeOf(request, res), String(request.params.name), version(request))),
  );
  router.post(
    `${modelPath}/generate`,
    route((request, res) => core.generate(exchangeOf(request, res), String(request.params.name), version(request))),
  );
  router.get('/v2/health/live', route(core.live));
  router.get('/v2/health/ready', route(core.ready));
  router.get('/v2', route(core.serverMetadata));
  router.get(
    `${modelPath}/ready`,
    route((request, res) => core.modelReady(exchangeOf(request, res), String(request.params.name), version(request))),
  );
  router.get(
    modelPath,
    route((request, res) => core.metadata(exchangeOf(request, res), String(request.params.name), version(request))),
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
      if (core.draining) res.setHeader('Connection', 'close');
      core.authenticate(request, action, undefined).then(
        (principal) => {
          if (principal !== undefined) {
            res.locals.principal = principal;
            // Mounted routers that check permissions per operation (rolloutAdminRoutes) use the
            // guard's role policy too, not role names of their own.
            if (guardAuthorize !== undefined) res.locals[MOUNT_AUTHORIZE] = guardAuthorize;
          }
          next();
        },
        (error) => send(request, res, core.fail({ request, response: res }, error)),
      );
    };
    mounted.use(mount.path, gate, mount.handler);
  };
  for (const mount of options.mount ?? []) router.mount(mount);

  router.use(
    '/v2',
    route((request, res) =>
      core.fail({ request, response: res }, new BallastError('NOT_FOUND', `no route ${request.method} ${request.baseUrl}${request.path}`)),
    ),
  );
  router.use(
    errorHandler({
      ...(onError === undefined ? {} : { onError: (error, request) => onError(error, request as Request) }),
      ...(options.requestIdHeader === undefined ? {} : { requestIdHeader: options.requestIdHeader }),
    }),
  );

  Object.defineProperty(router, 'inFlight', { get: () => core.inFlight });
  router.readiness = core.readiness;
  router.shutdown = async (shutdown: ShutdownOptions = {}) => {
    await core.shutdown(shutdown);
  };
  return router;
}
