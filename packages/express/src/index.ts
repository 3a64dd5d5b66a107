/**
 * @packageDocumentation
 * Express 5 middleware and Open Inference Protocol v2 routes for Ballast models: `ballastRouter()`,
 * `inferHandler()`, the error handler and request ids. A thin adapter over the serving core
 * (`@ballast/serving`), whose pieces are re-exported here for existing imports.
 */

export type {
  DecodedV2Request,
  DecodeV2Options,
  ErrorBody,
  OpenBreakers,
  RequestAudit,
  RowTensor,
  ServedErrorReporter,
  V2ModelMetadata,
  V2TensorMetadata,
} from '@ballast/serving';
export {
  auditRequest,
  breakerUnreadiness,
  checkDeclaredDatatype,
  DEFAULT_TIMEOUT_MS,
  decodeV2Request,
  encodeV2Outputs,
  errorBody,
  REQUEST_ID_PATTERN,
  reportServedError,
  retryAfterSeconds,
  specsToV2,
  toHttpError,
  trackOpenBreakers,
  v2RequestSchema,
} from '@ballast/serving';
export type { ErrorHandlerOptions } from './errors.js';
export { answerStatus, errorHandler, sendError } from './errors.js';
export type { CallState, ServeOptions } from './http-context.js';
export { readJson, requestId, requestIdOf, startCall } from './http-context.js';
export type { ChatCompletionsHandlerOptions, InferHandlerOptions } from './infer-handler.js';
export { chatCompletionsHandler, inferHandler } from './infer-handler.js';
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
