/** @packageDocumentation In-process ONNX Runtime models with execution-provider fallback, input validation, batching and worker threads */
export {};
