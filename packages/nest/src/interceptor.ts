import { type InferOptions, now, type Principal } from '@ballast/core';
import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { type Observable, tap } from 'rxjs';
import { type BallastRequestContext, runWithContext } from './context.js';
import { BallastModels } from './models.js';
import type { ResolvedOptions } from './options.js';
import { auditWhenDone, type StateResponse } from './request-state.js';
import { isServedByCore } from './served-by-core.js';
import { BALLAST_OPTIONS } from './tokens.js';

/** The request fields the interceptor reads and writes (Express 5 under Nest's platform-express). */
export interface BallastHttpRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  route?: { path?: unknown };
  /** Set by `BallastAuthGuard`. */
  ballastPrincipal?: Principal;
  /** Set by `BallastContextInterceptor`. */
  ballastContext?: BallastRequestContext;
}

interface HttpResponse extends StateResponse {
  writableFinished: boolean;
}

/**
 * Opens the Ballast context of a request: a request id (the caller's, when well-formed, else a
 * UUID, echoed in the response header), the principal `BallastAuthGuard` authenticated, the route,
 * a deadline from the module's `timeoutMs` (a request's `x-timeout-ms` header may shorten it), and
 * a signal that aborts when the client goes away. With an audit log in the guard, it writes the
 * request's audit line when the response is done.
 * Models injected with `@InjectModel` (or looked up in `BallastModels`) receive all of it in their
 * `InferOptions`: `principal`, `deadline`, `signal` and the attributes `ballast.request.id`,
 * `http.route` and `http.request.method`.
 *
 * @example
 * @Controller('score')
 * @UseGuards(BallastAuthGuard)
 * @UseInterceptors(BallastContextInterceptor)
 * class ScoreController {}
 */
@Injectable()
export class BallastContextInterceptor implements NestInterceptor {
  /**
   * @param options the module options (`timeoutMs`, `requestIdHeader`).
   * @param models the registered models (for the shutdown state).
   */
  constructor(
    @Inject(BALLAST_OPTIONS) private readonly options: ResolvedOptions,
    @Inject(BallastModels) private readonly models: BallastModels,
  ) {}

  /** Runs the rest of the request inside its Ballast context. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    // The v2 routes: the serving core gives them their request id, budget, signal and audit line.
    if (context.getType() !== 'http' || isServedByCore(context.getClass())) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<BallastHttpRequest>();
    const response = http.getResponse<HttpResponse>();
    const requestContext = this.contextOf(request, response, context);
    request.ballastContext = requestContext;
    // next.handle() binds the handler to the async scope it is called in, so the handler (and
    // every await inside it) sees this request's context.
    const handled = runWithContext(requestContext, () => next.handle());
    // During shutdown, answers close their connection so keep-alive clients do not hold the drain.
    const closeIfDraining = (): void => {
      if (this.models.isDraining && !response.headersSent) response.setHeader('Connection', 'close');
    };
    return handled.pipe(tap({ next: closeIfDraining, error: closeIfDraining }));
  }

  private contextOf(request: BallastHttpRequest, response: HttpResponse, context: ExecutionContext): BallastRequestContext {
    const { requestId } = auditWhenDone(this.options.guard, request, response, this.options.requestIdHeader);
    const path = request.route?.path;
    const route = `${request.method} ${typeof path === 'string' ? path : `${context.getClass().name}.${context.getHandler().name}`}`;
    // One controller per request (not per call): the client hanging up cancels the model calls.
    const controller = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
    const principal = request.ballastPrincipal;
    // A caller may shorten the budget with `x-timeout-ms` (never lengthen it past `timeoutMs`).
    const asked = Number(request.headers['x-timeout-ms']);
    const budget = asked > 0 && Number.isFinite(asked) ? Math.min(asked, this.options.timeoutMs ?? asked) : this.options.timeoutMs;
    const options: InferOptions = {
      signal: controller.signal,
      attributes: { 'ballast.request.id': requestId, 'http.route': route, 'http.request.method': request.method },
      ...(principal === undefined ? {} : { principal }),
      ...(budget === undefined ? {} : { deadline: now() + budget }),
    };
    return { requestId, principal, route, options };
  }
}
