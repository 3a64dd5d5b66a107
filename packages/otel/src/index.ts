/**
 * @packageDocumentation
 * OpenTelemetry traces and metrics for every Ballast inference. Depends on `@opentelemetry/api`
 * only; `@ballast/otel/node` sets up an SDK for apps that have none.
 */

export type { CostRate } from './costs.js';
export type { Instrumentation, InstrumentOptions } from './instrument.js';
export { errorType, instrument } from './instrument.js';
export * from './semconv.js';
