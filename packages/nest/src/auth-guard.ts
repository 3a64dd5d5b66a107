import { BallastError } from '@ballast/core';
import type { GuardAction } from '@ballast/guard';
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { BallastHttpRequest } from './interceptor.js';
import type { ResolvedOptions } from './options.js';
import { auditWhenDone, type StateResponse } from './request-state.js';
import { isServedByCore } from './served-by-core.js';
import { BALLAST_OPTIONS } from './tokens.js';

const AUTHORIZE = 'ballast:authorize';
const PUBLIC = 'ballast:public';

/** What a route asks `BallastAuthGuard` to check. */
export interface BallastAuthorizeOptions {
  /** The action (`infer`, `read`, `admin`, or your own). Default: `read` for GET and HEAD, `infer` otherwise. */
  action?: GuardAction;
  /** The model the route acts on. Default: the `:name` (or `:model`) route parameter. */
  model?: string;
}

/**
 * Declares the action and model `BallastAuthGuard` authorizes for a route or a whole controller.
 *
 * @example
 * @Post('score')
 * @BallastAuthorize({ action: 'infer', model: 'iris' })
 * score(@Body() body: IrisInput) {}
 */
export function BallastAuthorize(options: BallastAuthorizeOptions): MethodDecorator & ClassDecorator {
  return SetMetadata(AUTHORIZE, options);
}

/**
 * Marks a route (or controller) as open: `BallastAuthGuard` lets it through without a key.
 * The v2 health routes are public so that load balancers can probe them.
 *
 * @example
 * @Get('healthz')
 * @BallastPublic()
 * health() { return { ok: true }; }
 */
export function BallastPublic(): MethodDecorator & ClassDecorator {
  return SetMetadata(PUBLIC, true);
}

interface AuthRequest extends BallastHttpRequest {
  params?: Record<string, string | undefined>;
}

/**
 * Authenticates each request with the module's `Guard` from `@ballast/guard` (API keys in
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`, or its own authenticator), authorizes the
 * route's action on its model (`UNAUTHENTICATED` 401, `FORBIDDEN` 403), spends the principal's rate limit (`RATE_LIMITED` 429 with `Retry-After`) and
 * applies the guard's body limit for the model (`PAYLOAD_TOO_LARGE` 413). With an audit log in
 * the guard, every request it sees gets one audit line, rejected ones included.
 * The principal then reaches every model call of the request through `BallastContextInterceptor`.
 * Fails closed: without `guard` in the module options every protected route answers 401.
 *
 * @example
 * @Controller('score')
 * @UseGuards(BallastAuthGuard)
 * @UseFilters(BallastExceptionFilter)
 * class ScoreController {}
 */
@Injectable()
export class BallastAuthGuard implements CanActivate {
  /**
   * @param options the module options (`guard`).
   * @param reflector reads `@BallastAuthorize` and `@BallastPublic`.
   */
  constructor(
    @Inject(BALLAST_OPTIONS) private readonly options: ResolvedOptions,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  /** Authenticates, authorizes and rate-limits the request; throws a `BallastError` when it may not go on. */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    // The v2 routes: the serving core authenticates, admits and audits them itself.
    if (isServedByCore(context.getClass())) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets) === true) return true;
    const guard = this.options.guard;
    if (guard === undefined) {
      throw new BallastError('UNAUTHENTICATED', 'authentication is not configured for this route', {
        details: { reason: 'no-guard' },
      });
    }
    const http = context.switchToHttp();
    const request = http.getRequest<AuthRequest>();
    const response = http.getResponse<StateResponse>();
    const state = auditWhenDone(guard, request, response, this.options.requestIdHeader);
    const declared = this.reflector.getAllAndOverride<BallastAuthorizeOptions | undefined>(AUTHORIZE, targets);
    const action = declared?.action ?? (request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'infer');
    const model = declared?.model ?? request.params?.name ?? request.params?.model;
    state.action = action;
    if (model !== undefined) state.model = model;
    const version = request.params?.version;
    if (version !== undefined) state.version = version;
    const principal = await guard.authenticate(request);
    state.principal = principal.id;
    if (principal.keyId !== undefined) state.keyId = principal.keyId;
    guard.authorize(principal, action, model);
    await guard.admit(principal, model ?? '');
    // The guard's body limit per model; the body parser's own limit applies before this.
    const length = Number(request.headers['content-length']);
    const limit = guard.maxBodyBytes(model);
    if (length > limit) {
      throw new BallastError('PAYLOAD_TOO_LARGE', `the request body exceeds ${limit} bytes`, { details: { limitBytes: limit } });
    }
    request.ballastPrincipal = principal;
    return true;
  }
}
