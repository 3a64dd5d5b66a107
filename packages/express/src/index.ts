/**
 * @packageDocumentation
 * Express 5 middleware and Open Inference Protocol v2 routes for Ballast models: `ballastRouter()`,
 * `inferHandler()`, the error handler and request ids, on top of `@ballast/guard`.
 */

// Not part of the public API: trackOpenBreakers, breakerUnreadiness, reportServedError, checkDeclaredDatatype, retryAfterSeconds, errorBody, auditRequest and
// REQUEST_ID_PATTERN (and their types) are exported for @ballast/nest, so both adapters report
// breakers, answer Retry-After and error bodies, audit and accept request ids alike.
export type { OpenBreakers } from './breakers.js';
export { breakerUnreadiness, trackOpenBreakers } from './breakers.js';
export type { ErrorBody, ErrorHandlerOptions, ServedErrorReporter } from './errors.js';
export { answerStatus, errorBody, errorHandler, reportServedError, retryAfterSeconds, sendError, toHttpError } from './errors.js';
export type { CallState, RequestAudit, ServeOptions } from './http-context.js';
export { auditRequest, DEFAULT_TIMEOUT_MS, REQUEST_ID_PATTERN, readJson, requestId, requestIdOf, startCall } from './http-context.js';
export type { InferHandlerOptions } from './infer-handler.js';
export { inferHandler } from './infer-handler.js';
export type {
  AdminAnswer,
  AdminPermissionCheck,
  AdminResponse,
  RolloutAdminOperations,
  RolloutAdminRoutesOptions,
} from './rollout-admin.js';
export { rolloutAdminRoutes } from './rollout-admin.js';
export type { BallastRouter, BallastRouterOptions, ModelMetadataOverride, MountedRouter, ShutdownOptions } from './router.js';
export { ballastRouter } from './router.js';
export type { DecodedV2Request, DecodeV2Options, RowTensor, V2ModelMetadata, V2TensorMetadata } from './v2.js';
export { checkDeclaredDatatype, decodeV2Request, encodeV2Outputs, specsToV2, v2RequestSchema } from './v2.js';
