/**
 * @packageDocumentation
 * Express 5 middleware and Open Inference Protocol v2 routes for Ballast models: `ballastRouter()`,
 * `inferHandler()`, the error handler and request ids, on top of `@ballast/guard`.
 */

export type { ErrorBody, ErrorHandlerOptions } from './errors.js';
export { errorHandler, sendError, toHttpError } from './errors.js';
export type { CallState, ServeOptions } from './http-context.js';
export { DEFAULT_TIMEOUT_MS, readJson, requestId, requestIdOf, startCall } from './http-context.js';
export type { InferHandlerOptions } from './infer-handler.js';
export { inferHandler } from './infer-handler.js';
export type { AdminAnswer, RolloutAdminOperations, RolloutAdminRoutesOptions } from './rollout-admin.js';
export { rolloutAdminRoutes } from './rollout-admin.js';
export type { BallastRouter, BallastRouterOptions, ModelMetadataOverride, MountedRouter, ShutdownOptions } from './router.js';
export { ballastRouter } from './router.js';
export type { DecodedV2Request, RowTensor, V2ModelMetadata, V2TensorMetadata } from './v2.js';
export { decodeV2Request, encodeV2Outputs, specsToV2, v2RequestSchema } from './v2.js';
