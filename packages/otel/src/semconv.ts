/*
 * Attribute and metric names.
 *
 * OpenTelemetry advises instrumentations to copy incubating semantic-convention names into their
 * own code rather than import `@opentelemetry/semantic-conventions/incubating`, whose names may
 * change in any minor release. The GenAI names below are copied from semantic-conventions 1.45
 * (incubating, "gen_ai" registry); `error.type` is stable. Everything Ballast-specific lives under
 * the `ballast.` namespace. docs/telemetry.md lists every name with its unit.
 */

// --- GenAI semantic conventions (incubating, copied from @opentelemetry/semantic-conventions 1.45;
// status "Development", now kept in the open-telemetry/semantic-conventions-genai repository) ---

/**
 * The operation being performed: the model's GenAI operation (`chat`, `text_completion`,
 * `embeddings`), or `infer` for other Ballast calls. Incubating GenAI convention.
 */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** The name of the model a request is made to. Incubating GenAI convention. */
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
/** The model provider as identified by the instrumentation (from a `ballast:usage` event's `provider`). Incubating GenAI convention. */
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** Input tokens used by a call, when the model reports it. Incubating GenAI convention. */
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
/** Output tokens produced by a call, when the model reports it. Incubating GenAI convention. */
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
/** The type of token counted: `input` or `output`. Incubating GenAI convention. */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
/** Histogram of tokens used per call, unit `{token}`. Incubating GenAI convention. */
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
/** The model that answered, as the response names it (`gpt-4o-mini-2024-07-18`). Incubating GenAI convention. */
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
/** Histogram: duration of one GenAI client operation (a chat, completion or embeddings call or stream), `s`. Development GenAI convention. */
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
/** Histogram: time from the request to the first chunk of a streamed answer, `s`. Development GenAI convention. */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = 'gen_ai.client.operation.time_to_first_chunk';
/** Histogram: time between two chunks of a streamed answer, one record per chunk after the first, `s`. Development GenAI convention. */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK = 'gen_ai.client.operation.time_per_output_chunk';
/** Bucket boundaries the GenAI conventions advise for `gen_ai.client.operation.duration` (and used for the time to first chunk). */
export const GEN_AI_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** Bucket boundaries for `gen_ai.client.operation.time_per_output_chunk`, seconds. */
export const GEN_AI_CHUNK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
/** Bucket boundaries the GenAI conventions advise for `gen_ai.client.token.usage`. */
export const GEN_AI_TOKEN_USAGE_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

// --- Stable general conventions ---

/** The class of error a call ended with (a Ballast error code, or the error's name). Stable convention. */
export const ATTR_ERROR_TYPE = 'error.type';
/** `error.type` value when nothing better is known. Stable convention. */
export const ERROR_TYPE_VALUE_OTHER = '_OTHER';

/** An incoming request's `traceparent` header, as adapters put it in `InferOptions.attributes`; the call continues that trace. Stable HTTP convention (`http.request.header.<key>`). */
export const ATTR_HTTP_REQUEST_HEADER_TRACEPARENT = 'http.request.header.traceparent';
/** An incoming request's `tracestate` header, as adapters put it in `InferOptions.attributes`. */
export const ATTR_HTTP_REQUEST_HEADER_TRACESTATE = 'http.request.header.tracestate';

// --- Ballast attributes ---

/** Model version label. */
export const ATTR_BALLAST_MODEL_VERSION = 'ballast.model.version';
/** Where the model runs: `internal` (in-process) or `client` (remote). */
export const ATTR_BALLAST_MODEL_KIND = 'ballast.model.kind';
/** How a call ended: `success`, `fallback` (served by a fallback source) or `error`. */
export const ATTR_BALLAST_OUTCOME = 'ballast.outcome';
/**
 * Whether a call ran inside another Ballast call (a retried HTTP attempt, a fallback model). No
 * longer recorded: nested calls go to `ballast.inference.nested.duration_seconds` instead.
 * @deprecated Query `ballast_inference_nested_duration_seconds_*` for nested calls.
 */
export const ATTR_BALLAST_CALL_NESTED = 'ballast.call.nested';
/** Execution provider of an in-process model (`cpu`, `cuda`, `webgpu`, ...). */
export const ATTR_BALLAST_PROVIDER = 'ballast.provider';
/** Result-cache result of a lookup: `hit`, `miss`, `stale`, `coalesced`. */
export const ATTR_BALLAST_CACHE_RESULT = 'ballast.cache.result';
/** `true` on a cache hit another replica computed (the shared store's single-flight lease); absent otherwise. */
export const ATTR_BALLAST_CACHE_SHARED = 'ballast.cache.shared';
/** Attempts a call took (retries + 1). */
export const ATTR_BALLAST_ATTEMPTS = 'ballast.attempts';
/** Retry attempt number that failed (1-based). */
export const ATTR_BALLAST_RETRY_ATTEMPT = 'ballast.retry.attempt';
/** Wait before the next attempt, ms. */
export const ATTR_BALLAST_RETRY_DELAY_MS = 'ballast.retry.delay_ms';
/** Name of the fallback source that served or was tried. */
export const ATTR_BALLAST_FALLBACK_SOURCE = 'ballast.fallback.source';
/** Position of the fallback source in its chain (0 = first). */
export const ATTR_BALLAST_FALLBACK_INDEX = 'ballast.fallback.index';
/** Whether the fallback source served the call. */
export const ATTR_BALLAST_FALLBACK_SERVED = 'ballast.fallback.served';
/** How long the first attempt had run when a hedge started, ms. */
export const ATTR_BALLAST_HEDGE_AFTER_MS = 'ballast.hedge.after_ms';
/** Which attempt of a hedged call won: `primary` or `hedge`. */
export const ATTR_BALLAST_HEDGE_WINNER = 'ballast.hedge.winner';
/** Circuit-breaker state (`closed`, `open`, `half-open`, `isolated`). */
export const ATTR_BALLAST_BREAKER_STATE = 'ballast.breaker.state';
/** Circuit-breaker key, when breakers are keyed. */
export const ATTR_BALLAST_BREAKER_KEY = 'ballast.breaker.key';
/** Breaker state before a transition. */
export const ATTR_BALLAST_BREAKER_FROM = 'ballast.breaker.from';
/** Why a breaker changed state. */
export const ATTR_BALLAST_BREAKER_REASON = 'ballast.breaker.reason';
/** Items in a dispatched batch. */
export const ATTR_BALLAST_BATCH_SIZE = 'ballast.batch.size';
/** Mean queue wait of a batch's items, ms. */
export const ATTR_BALLAST_QUEUE_WAIT_MS = 'ballast.queue.wait_ms';
/** Rejection code: `RATE_LIMITED`, `OVERLOADED`, `CIRCUIT_OPEN`. */
export const ATTR_BALLAST_REJECTION_CODE = 'ballast.rejection.code';
/** Mechanism that rejected or produced an event: `rate-limit`, `bulkhead`, `batching`, `breaker`. */
export const ATTR_BALLAST_REJECTION_SOURCE = 'ballast.rejection.source';
/** Model load phase: `load` or `reload`. */
export const ATTR_BALLAST_LOAD_PHASE = 'ballast.model.load.phase';
/** Which shared store published a `ballast:store` event: `rate-limit`, `quota`, `breaker`, `cache` ... */
export const ATTR_BALLAST_STORE_NAME = 'ballast.store.name';
/** The store operation of a `ballast:store` event (`take`, `available`, `open`, `failure`, `trial`, `state`, `get`, `set` ...). */
export const ATTR_BALLAST_STORE_OP = 'ballast.store.op';
/** How a store operation went: `ok` (a round trip Redis answered), `timeout`, `error`, `fallback` (decided locally), `recovered`. */
export const ATTR_BALLAST_STORE_OUTCOME = 'ballast.store.outcome';
/** Drift monitor name. */
export const ATTR_BALLAST_DRIFT_MONITOR = 'ballast.drift.monitor';
/** Drift feature (or `__prediction__`, `__confidence__`, `__dataset__`). */
export const ATTR_BALLAST_DRIFT_FEATURE = 'ballast.drift.feature';
/** Drift test (`ks`, `psi`, `chi-square`, ...). */
export const ATTR_BALLAST_DRIFT_TEST = 'ballast.drift.test';
/** Drift verdict of a test. */
export const ATTR_BALLAST_DRIFT_DRIFTED = 'ballast.drift.drifted';
/** Cost kind: `call`, `item`, `input_token`, `output_token`, `second`. */
export const ATTR_BALLAST_COST_KIND = 'ballast.cost.kind';
/** Currency of a cost (from `instrument({ currency })`). */
export const ATTR_BALLAST_COST_CURRENCY = 'ballast.cost.currency';
/** Chunks a stream delivered (on a GenAI stream's span). */
export const ATTR_BALLAST_STREAM_CHUNKS = 'ballast.stream.chunks';
/** A captured input (only with `captureInputs`). */
export const ATTR_BALLAST_INPUT = 'ballast.input';

// --- Span events ---

/** Span event: a failed attempt that will be retried. */
export const EVENT_BALLAST_RETRY = 'ballast.retry';
/** Span event: a hedged attempt started or settled. */
export const EVENT_BALLAST_HEDGE = 'ballast.hedge';
/** Span event: a fallback source tried. */
export const EVENT_BALLAST_FALLBACK = 'ballast.fallback';
/** Span event: a result-cache lookup. */
export const EVENT_BALLAST_CACHE = 'ballast.cache';
/** Span event: a breaker changed state during the call. */
export const EVENT_BALLAST_BREAKER = 'ballast.breaker';
/** Span event: the call was rejected by a limiter, bulkhead, queue or breaker. */
export const EVENT_BALLAST_REJECTION = 'ballast.rejection';

// --- Metrics ---
//
// Histograms in seconds carry the unit in their name (`_seconds`): OpenTelemetry JS's Prometheus
// exporter (2.x and 3.x) appends `_total` to counters but no unit suffix, and Prometheus names
// must end in their base unit. The OTLP-to-Prometheus translation of a collector or of Prometheus
// itself does not append `_seconds` twice to a name that already ends in it.

/**
 * Histogram: duration of one call as its caller asked for it (calls inside another Ballast call
 * are not counted here), `s`. Its count by `ballast.outcome` is the request count by outcome.
 */
export const METRIC_BALLAST_INFERENCE_DURATION = 'ballast.inference.duration_seconds';
/** Histogram: duration of a call made inside another Ballast call (a retried attempt of a remote model, a fallback model), `s`. */
export const METRIC_BALLAST_INFERENCE_NESTED_DURATION = 'ballast.inference.nested.duration_seconds';
/** Observable UpDownCounter: inferences in flight, `{request}`. */
export const METRIC_BALLAST_INFERENCE_ACTIVE = 'ballast.inference.active';
/** Histogram: mean queue wait of the items of a batch, `s`. */
export const METRIC_BALLAST_QUEUE_WAIT = 'ballast.queue.wait_seconds';
/** Histogram: items per dispatched batch, `{item}`. */
export const METRIC_BALLAST_BATCH_SIZE = 'ballast.batch.size';
/** Histogram: duration of one `inferBatch`, `s`. */
export const METRIC_BALLAST_BATCH_DURATION = 'ballast.batch.duration_seconds';
/** Counter: retries scheduled, `{retry}`. */
export const METRIC_BALLAST_RETRIES = 'ballast.retries';
/** Counter: hedged attempts started, `{hedge}`. */
export const METRIC_BALLAST_HEDGES = 'ballast.hedges';
/** Counter: fallback sources tried, by source and whether they served, `{fallback}`. */
export const METRIC_BALLAST_FALLBACKS = 'ballast.fallbacks';
/** Counter: result-cache lookups by result (`hit`, `miss`, `stale`, `coalesced`), `{lookup}`. */
export const METRIC_BALLAST_CACHE_LOOKUPS = 'ballast.cache.lookups';
/** Observable gauge: 1 for a breaker's current state, 0 for the others, `1`. */
export const METRIC_BALLAST_BREAKER_STATE = 'ballast.breaker.state';
/** Counter: breaker state transitions, `{transition}`. */
export const METRIC_BALLAST_BREAKER_TRANSITIONS = 'ballast.breaker.transitions';
/** Counter: calls rejected before they ran (rate limit, bulkhead, queue, open breaker), `{request}`. */
export const METRIC_BALLAST_REJECTIONS = 'ballast.rejections';
/** Gauge: last drift statistic per monitor, feature and test, `1`. */
export const METRIC_BALLAST_DRIFT_SCORE = 'ballast.drift.score';
/** Gauge: last drift p-value per monitor, feature and test (hypothesis tests only), `1`. */
export const METRIC_BALLAST_DRIFT_P_VALUE = 'ballast.drift.p_value';
/** Gauge: last drift verdict (1 drifted, 0 not), `1`. */
export const METRIC_BALLAST_DRIFT_DETECTED = 'ballast.drift.detected';
/** Counter: drift tests run, by verdict, `{test}`. */
export const METRIC_BALLAST_DRIFT_TESTS = 'ballast.drift.tests';
/** Counter: windows in which every value of a feature was missing (drift test `missing`), `{window}`. */
export const METRIC_BALLAST_DRIFT_MISSING = 'ballast.drift.missing';
/** Counter: cost of inference in the configured currency, `{currency}` (see `costs`). */
export const METRIC_BALLAST_COST = 'ballast.cost';
/** Counter: items processed as reported by `ballast:usage`, `{item}`. */
export const METRIC_BALLAST_USAGE_ITEMS = 'ballast.usage.items';
/** Histogram: model load time, `s`. */
export const METRIC_BALLAST_MODEL_LOAD_DURATION = 'ballast.model.load.duration_seconds';
/** Observable gauge: 1 for the execution provider a model runs on, `1`. */
export const METRIC_BALLAST_MODEL_PROVIDER = 'ballast.model.provider';
/**
 * Counter: shared-store operations (`ballast:store` events) by store, operation and outcome,
 * `{operation}`: round trips (`ok`), failed ones (`timeout`, `error`), local decisions
 * (`fallback`) and returns to the shared store (`recovered`).
 */
export const METRIC_BALLAST_STORE_OPERATIONS = 'ballast.store.operations';
/** Histogram: duration of one shared-store round trip, from events that carry `durationMs`, `s`. */
export const METRIC_BALLAST_STORE_DURATION = 'ballast.store.duration_seconds';

/** Bucket boundaries for inference and queue durations, seconds: 100 µs to 10 s. */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Bucket boundaries for model load time, seconds: 10 ms to 2 min. */
export const LOAD_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Bucket boundaries for batch sizes, items. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

// --- Load balancing over endpoints (balance() in @ballast/client) ---

/** Endpoint of a balanced model (its id: a URL, a host name). */
export const ATTR_BALLAST_BALANCE_ENDPOINT = 'ballast.balance.endpoint';
/** Why an endpoint was ejected: `consecutive-failures` or `error-ratio`. */
export const ATTR_BALLAST_BALANCE_REASON = 'ballast.balance.reason';
/** Counter: calls sent to each endpoint of a balanced model, `{call}`. */
export const METRIC_BALLAST_BALANCE_CHOSEN = 'ballast.balance.chosen';
/** Counter: outlier ejections of an endpoint, by reason, `{ejection}`. */
export const METRIC_BALLAST_BALANCE_EJECTIONS = 'ballast.balance.ejections';
/** Observable gauge: an endpoint's peak-EWMA latency as last reported, `s`. */
export const METRIC_BALLAST_BALANCE_LATENCY = 'ballast.balance.endpoint.latency_seconds';
/** Observable gauge: 1 while an endpoint can take calls, 0 while it is ejected, `1`. */
export const METRIC_BALLAST_BALANCE_AVAILABLE = 'ballast.balance.endpoint.available';
