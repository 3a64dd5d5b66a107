/**
 * @packageDocumentation
 * Contracts for Ballast: `Model`, `Middleware`, `pipeline()`, `BallastError`, call deadlines,
 * diagnostics-channel events, the `batching()` micro-batcher and the `SlidingWindow` of counters.
 */

export type { BatchingOptions } from './batching.js';
export { batching } from './batching.js';
export type { AttemptMemo, DeadlineEntry } from './deadline.js';
export {
  annotate,
  atDeadline,
  attemptMemo,
  cancelledError,
  capTimeout,
  deadlineOf,
  doneError,
  now,
  remainingMs,
  SIGNAL_GRACE_MS,
  shareAttemptMemo,
  signalOf,
  throwIfDone,
  timeoutError,
  withAttemptMemo,
  withDeadline,
} from './deadline.js';
export type { BallastErrorOptions, ErrorCode, StatusErrorOptions } from './errors.js';
export {
  BallastError,
  codeForHttpStatus,
  ERROR_CODES,
  errorForStatus,
  httpStatusFor,
  isBallastError,
  isRetryableCode,
  parseRetryAfter,
  toBallastError,
} from './errors.js';
export type {
  BalanceEvent,
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
  StoreEvent,
  UsageEvent,
} from './events.js';
export { CHANNEL_NAMES, channels, emit, subscribe } from './events.js';
export type { FixedWindowOptions } from './fixed-window-limiter.js';
export { FixedWindowLimiter } from './fixed-window-limiter.js';
export type { Limiter, LimiterCallOptions, TakeResult } from './limiter.js';
export { isLimiter, TAKE_GRANTED } from './limiter.js';
export type { HealthReport, InferOptions, Middleware, Model, ModelDefinition, ModelKind, Principal } from './model.js';
export { callModel, defineModel, hasTypedFailures, markTypedFailures } from './model.js';
export type { OptionIssue, OptionsSchema, SchemaIssue, SchemaParseResult } from './options-schema.js';
export { parseOptions } from './options-schema.js';
export { pipeline } from './pipeline.js';
export { promised } from './promised.js';
export { seededRandom } from './random.js';
export type { SlidingWindowOptions } from './sliding-window.js';
export { SlidingWindow } from './sliding-window.js';
export type { Chunk, CreateStreamOptions, ModelStream, SourceReturn, StreamEvent, StreamResult, StreamSource, Usage } from './stream.js';
export { collectStream, createStream, isModelStream } from './stream.js';
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
export type { WrapModelParts } from './wrap-model.js';
export { wrapModel } from './wrap-model.js';
