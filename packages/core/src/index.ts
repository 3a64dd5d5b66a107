/**
 * @packageDocumentation
 * Contracts for Ballast: `Model`, `Middleware`, `pipeline()`, `BallastError`, call deadlines,
 * diagnostics-channel events and the `batching()` micro-batcher.
 */

export type { BatchingOptions } from './batching.js';
export { batching } from './batching.js';
export {
  annotate,
  cancelledError,
  capTimeout,
  deadlineOf,
  doneError,
  now,
  remainingMs,
  SIGNAL_GRACE_MS,
  signalOf,
  throwIfDone,
  timeoutError,
  withDeadline,
} from './deadline.js';
export type { BallastErrorOptions, ErrorCode } from './errors.js';
export { BallastError, codeForHttpStatus, ERROR_CODES, httpStatusFor, isBallastError, isRetryableCode, toBallastError } from './errors.js';
export type {
  BatchEvent,
  BreakerEvent,
  BreakerState,
  CacheEvent,
  DriftEvent,
  EventPayloads,
  FallbackEvent,
  HedgeEvent,
  HttpRequestEvent,
  InferContext,
  ModelLoadEvent,
  RejectionEvent,
  RetryEvent,
  RolloutEvent,
  RolloutWindowMetrics,
  UsageEvent,
} from './events.js';
export { CHANNEL_NAMES, channels, emit, subscribe } from './events.js';
export type { FixedWindowOptions } from './fixed-window-limiter.js';
export { FixedWindowLimiter } from './fixed-window-limiter.js';
export type { Limiter, LimiterCallOptions, TakeResult } from './limiter.js';
export { isLimiter, TAKE_GRANTED } from './limiter.js';
export type { HealthReport, InferOptions, Middleware, Model, ModelDefinition, ModelKind, Principal } from './model.js';
export { callModel, defineModel } from './model.js';
export { pipeline } from './pipeline.js';
export { seededRandom } from './random.js';
export type {
  NestedArray,
  TensorInput,
  TensorScalar,
  TensorType,
  TensorValue,
  TypedArray,
  V2Datatype,
  V2InferRequest,
  V2InferResponse,
  V2Tensor,
} from './tensor.js';
export { elementCount, fromV2Datatype, isV2Element, toV2Datatype, V2_INTEGER_RANGES } from './tensor.js';
export type { TokenBucketOptions } from './token-bucket.js';
export { TokenBucketLimiter } from './token-bucket.js';
export { readBinaryTensor, writeBinaryTensor } from './v2-binary.js';
