/**
 * @packageDocumentation
 * The framework-free serving core of Ballast: the model registry, readiness, the bounded drain,
 * the Open Inference Protocol v2 infer flow (authenticate → admit → decode → check → infer →
 * filter → audit), error bodies, the audit line and the v2 codec. `@ballast/express`,
 * `@ballast/nest` and `@ballast/fastify` are thin adapters over it.
 */

export type { RequestAudit } from './audit.js';
export { auditRequest } from './audit.js';
export type { OpenBreakers } from './breakers.js';
export { answersThroughFallback, breakerUnreadiness, trackOpenBreakers } from './breakers.js';
export type { CallState, ServeOptions } from './call-state.js';
export { createCallState, DEFAULT_TIMEOUT_MS, type KnownRequest, releaseCallState, requestBudgetMs } from './call-state.js';
export { closeServer, Drain } from './drain.js';
export type { ErrorBody, ServedErrorReporter, V2ErrorBody } from './error-answer.js';
export {
  answerStatus,
  BODY_TIMEOUT_REASON,
  ERROR_CODE_HEADER,
  errorBody,
  errorBodyFor,
  isV2Path,
  reportServedError,
  retryAfterSeconds,
  toHttpError,
  v2ErrorBody,
} from './error-answer.js';
export type { EventStreamFormat, EventStreamOutcome } from './event-stream.js';
export { ballastEvents, sendEventStream, wantsEventStream } from './event-stream.js';
export { openaiChatCompletion, openaiChatEvents } from './openai-chat.js';
export { readJsonBody, readJsonBodyNow } from './read-json-body.js';
export type { ModelReadiness, ReadinessRule } from './readiness.js';
export { DEFAULT_HEALTH_TIMEOUT_MS, modelReadiness } from './readiness.js';
export type { ModelMetadataOverride, RegisteredModel } from './registry.js';
export { ModelRegistry } from './registry.js';
export type { HeaderTarget } from './request-id.js';
export { newRequestId, REQUEST_ID_PATTERN, requestIdOf } from './request-id.js';
export type {
  HeaderedExchange,
  ServerReadiness,
  ServingAnswer,
  ServingCore,
  ServingCoreOptions,
  ServingExchange,
  ShutdownOptions,
  V2ServerMetadata,
} from './serving-core.js';
export { createServingCore, v2ServerMetadata } from './serving-core.js';
export type { DecodedV2Request, DecodeV2Options, RowTensor, V2ModelMetadata, V2TensorMetadata } from './v2-codec.js';
export { checkDeclaredDatatype, decodeV2Request, encodeV2Outputs, isPlainEnvelope, specsToV2, v2RequestSchema } from './v2-codec.js';
export type { InferV2Options } from './v2-infer.js';
export { inferV2 } from './v2-infer.js';
export type { V2Answer } from './v2-wire.js';
export {
  encodeV2Answer,
  parseExactJson,
  parseV2Body,
  stringifyExactJson,
  V2_BINARY_CONTENT_TYPE,
  V2_HEADER_LENGTH,
  V2BinaryBody,
} from './v2-wire.js';
