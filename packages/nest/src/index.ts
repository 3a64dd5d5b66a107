/** @packageDocumentation NestJS module, guard, interceptor and exception filter for Ballast models */

export type { BallastAuthorizeOptions } from './auth-guard.js';
export { BallastAuthGuard, BallastAuthorize, BallastPublic } from './auth-guard.js';
export type { BallastRequestContext } from './context.js';
export { currentRequestContext, withRequestOptions } from './context.js';
export type { BallastErrorBody } from './exception-filter.js';
export { BallastExceptionFilter } from './exception-filter.js';
export type { BallastHttpRequest } from './interceptor.js';
export { BallastContextInterceptor } from './interceptor.js';
export type { BallastModelsOptions } from './models.js';
export { BallastModels } from './models.js';
export type { BallastModuleAsyncOptions } from './module.js';
export { BallastModule } from './module.js';
export type { BallastModuleOptions } from './options.js';
export { BALLAST_OPTIONS, InjectModel, modelToken } from './tokens.js';
export { BallastV2Controller } from './v2-controller.js';
