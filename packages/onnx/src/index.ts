/**
 * @packageDocumentation
 * In-process ONNX Runtime models with execution-provider fallback, input validation, batching
 * and worker threads. Test models: `@ballast/onnx/testing`.
 */

export type { SessionOptions } from './backend.js';
export type { ModelKey } from './encryption.js';
export { decryptModel, encryptModel, generateModelKey, isEncryptedModel, parseModelKey } from './encryption.js';
export type { GoldenSample, OnnxModel, OnnxModelOptions, ReloadSource } from './onnx-model.js';
export { onnxModel } from './onnx-model.js';
export type { ProviderAttempt, ProviderName } from './providers.js';
export { autoProviders, PROVIDER_NAMES, translateProviderError } from './providers.js';
export type { ModelSource } from './source.js';
export type { InputValue, NestedArray, OnnxInputs, OnnxOutputs, TensorSpec, TypedArray } from './tensors.js';
