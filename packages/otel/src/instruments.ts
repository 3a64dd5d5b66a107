/*
 * Every metric @ballast/otel records, declared in one place with its name, unit and description.
 *
 * Adding a metric: put its name (with a JSDoc line giving the instrument kind and unit) in
 * semconv.ts and export it from index.ts, declare the instrument in `createInstruments` below,
 * record it in the handler file of its event family (`*-events.ts`, listed in event-handlers.ts),
 * and add a row to docs/telemetry.md.
 */
import type { Counter, Gauge, Histogram, Meter, ObservableGauge, ObservableUpDownCounter } from '@opentelemetry/api';
import * as S from './semconv.js';

/** @internal The instruments of one `instrument()` call. */
export interface Instruments {
  readonly duration: Histogram;
  readonly nestedDuration: Histogram;
  readonly active: ObservableUpDownCounter;
  readonly queueWait: Histogram;
  readonly batchSize: Histogram;
  readonly batchDuration: Histogram;
  readonly retries: Counter;
  readonly hedges: Counter;
  readonly fallbacks: Counter;
  readonly cacheLookups: Counter;
  readonly breakerTransitions: Counter;
  readonly breakerState: ObservableGauge;
  readonly rejections: Counter;
  readonly driftScore: Gauge;
  readonly driftPValue: Gauge;
  readonly driftDetected: Gauge;
  readonly driftTests: Counter;
  readonly driftMissing: Counter;
  readonly cost: Counter;
  readonly tokenUsage: Histogram;
  readonly genAIDuration: Histogram;
  readonly genAIFirstChunk: Histogram;
  readonly genAIPerChunk: Histogram;
  readonly usageItems: Counter;
  readonly loadDuration: Histogram;
  readonly modelProvider: ObservableGauge;
  readonly storeOperations: Counter;
  readonly storeDuration: Histogram;
  readonly balanceChosen: Counter;
  readonly balanceEjections: Counter;
  readonly balanceLatency: ObservableGauge;
  readonly balanceAvailable: ObservableGauge;
}

/** @internal Declares every instrument on `meter`; `currency` names the cost counter's unit. */
export function createInstruments(meter: Meter, currency: string): Instruments {
  return {
    duration: meter.createHistogram(S.METRIC_BALLAST_INFERENCE_DURATION, {
      unit: 's',
      description: 'Duration of one inference through a Ballast pipeline',
      advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
    }),
    // A retried remote attempt or a fallback model is a Ballast call inside another: recording it in
    // the same histogram would count one request several times in every unfiltered rate().
    nestedDuration: meter.createHistogram(S.METRIC_BALLAST_INFERENCE_NESTED_DURATION, {
      unit: 's',
      description: 'Duration of a call made inside another Ballast call (a retried attempt, a fallback model)',
      advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
    }),
    active: meter.createObservableUpDownCounter(S.METRIC_BALLAST_INFERENCE_ACTIVE, {
      unit: '{request}',
      description: 'Inferences in flight',
    }),
    queueWait: meter.createHistogram(S.METRIC_BALLAST_QUEUE_WAIT, {
      unit: 's',
      description: 'Mean time the items of a dispatched batch waited in the queue',
      advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
    }),
    batchSize: meter.createHistogram(S.METRIC_BALLAST_BATCH_SIZE, {
      unit: '{item}',
      description: 'Items per dispatched batch',
      advice: { explicitBucketBoundaries: S.BATCH_SIZE_BUCKETS },
    }),
    batchDuration: meter.createHistogram(S.METRIC_BALLAST_BATCH_DURATION, {
      unit: 's',
      description: 'Duration of one batched model run',
      advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
    }),
    retries: meter.createCounter(S.METRIC_BALLAST_RETRIES, {
      unit: '{retry}',
      description: 'Retries scheduled after a failed attempt',
    }),
    hedges: meter.createCounter(S.METRIC_BALLAST_HEDGES, { unit: '{hedge}', description: 'Hedged attempts started' }),
    fallbacks: meter.createCounter(S.METRIC_BALLAST_FALLBACKS, {
      unit: '{fallback}',
      description: 'Fallback sources tried, by source and served',
    }),
    cacheLookups: meter.createCounter(S.METRIC_BALLAST_CACHE_LOOKUPS, {
      unit: '{lookup}',
      description: 'Result-cache lookups by result',
    }),
    breakerTransitions: meter.createCounter(S.METRIC_BALLAST_BREAKER_TRANSITIONS, {
      unit: '{transition}',
      description: 'Circuit-breaker state changes',
    }),
    breakerState: meter.createObservableGauge(S.METRIC_BALLAST_BREAKER_STATE, {
      unit: '1',
      description: 'Circuit-breaker state: 1 for the current state, 0 for the others',
    }),
    balanceChosen: meter.createCounter(S.METRIC_BALLAST_BALANCE_CHOSEN, {
      unit: '{call}',
      description: 'Calls sent to each endpoint of a balanced model',
    }),
    balanceEjections: meter.createCounter(S.METRIC_BALLAST_BALANCE_EJECTIONS, {
      unit: '{ejection}',
      description: 'Outlier ejections of an endpoint of a balanced model',
    }),
    balanceLatency: meter.createObservableGauge(S.METRIC_BALLAST_BALANCE_LATENCY, {
      unit: 's',
      description: "An endpoint's peak-EWMA latency as last reported by its balancer",
    }),
    balanceAvailable: meter.createObservableGauge(S.METRIC_BALLAST_BALANCE_AVAILABLE, {
      unit: '1',
      description: 'Whether an endpoint of a balanced model can take calls (0 while ejected)',
    }),
    rejections: meter.createCounter(S.METRIC_BALLAST_REJECTIONS, {
      unit: '{request}',
      description: 'Calls rejected before they ran (rate limit, bulkhead, queue, open breaker)',
    }),
    driftScore: meter.createGauge(S.METRIC_BALLAST_DRIFT_SCORE, {
      unit: '1',
      description: 'Last drift statistic per monitor, feature and test',
    }),
    driftPValue: meter.createGauge(S.METRIC_BALLAST_DRIFT_P_VALUE, {
      unit: '1',
      description: 'Last drift p-value (hypothesis tests)',
    }),
    driftDetected: meter.createGauge(S.METRIC_BALLAST_DRIFT_DETECTED, {
      unit: '1',
      description: 'Last drift verdict: 1 drifted, 0 not',
    }),
    driftTests: meter.createCounter(S.METRIC_BALLAST_DRIFT_TESTS, { unit: '{test}', description: 'Drift tests run, by verdict' }),
    driftMissing: meter.createCounter(S.METRIC_BALLAST_DRIFT_MISSING, {
      unit: '{window}',
      description: 'Windows in which every value of a feature was missing',
    }),
    cost: meter.createCounter(S.METRIC_BALLAST_COST, { unit: `{${currency}}`, description: `Inference cost in ${currency}` }),
    tokenUsage: meter.createHistogram(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
      unit: '{token}',
      description: 'Tokens used per call, as reported by the model',
      advice: { explicitBucketBoundaries: S.GEN_AI_TOKEN_USAGE_BUCKETS },
    }),
    genAIDuration: meter.createHistogram(S.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: S.GEN_AI_DURATION_BUCKETS },
    }),
    genAIFirstChunk: meter.createHistogram(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, {
      unit: 's',
      description: 'Time to receive the first chunk of a streamed GenAI answer',
      advice: { explicitBucketBoundaries: S.GEN_AI_DURATION_BUCKETS },
    }),
    genAIPerChunk: meter.createHistogram(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK, {
      unit: 's',
      description: 'Time per output chunk of a streamed GenAI answer, after the first',
      advice: { explicitBucketBoundaries: S.GEN_AI_CHUNK_BUCKETS },
    }),
    usageItems: meter.createCounter(S.METRIC_BALLAST_USAGE_ITEMS, {
      unit: '{item}',
      description: 'Items processed, as reported by the model',
    }),
    loadDuration: meter.createHistogram(S.METRIC_BALLAST_MODEL_LOAD_DURATION, {
      unit: 's',
      description: 'Model load and reload time',
      advice: { explicitBucketBoundaries: S.LOAD_DURATION_BUCKETS },
    }),
    modelProvider: meter.createObservableGauge(S.METRIC_BALLAST_MODEL_PROVIDER, {
      unit: '1',
      description: 'Execution provider a model runs on: 1 for the one in use',
    }),
    storeOperations: meter.createCounter(S.METRIC_BALLAST_STORE_OPERATIONS, {
      unit: '{operation}',
      description: 'Shared-store operations (Redis) by store, operation and outcome: round trips, failures, local fallbacks',
    }),
    storeDuration: meter.createHistogram(S.METRIC_BALLAST_STORE_DURATION, {
      unit: 's',
      description: 'Duration of one shared-store round trip',
      advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
    }),
  };
}
