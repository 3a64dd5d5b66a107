// docs/examples/otel-instrument.ts
import { createClient } from '@ballast/client';
import { BallastError, defineModel, pipeline } from '@ballast/core';
import { instrument } from '@ballast/otel';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

// The app's own OpenTelemetry set-up (here: in memory, to print what is recorded).
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

const telemetry = instrument({ tracerProvider, meterProvider, costs: [{ model: 'scorer', perCall: 0.001 }] });

// A model that fails its first call; the client retries it. pipeline() makes each attempt a traced call.
let calls = 0;
const scorer = pipeline(
  defineModel({
    name: 'scorer',
    infer: async (x: number) => {
      if (++calls === 1) throw new BallastError('MODEL_UNAVAILABLE', 'warming up');
      return x * 2;
    },
  }),
);
const client = createClient({ model: scorer, retry: { maxAttempts: 3, baseDelayMs: 1, jitter: 'none' } });
console.log('result:', await client.infer(21));

// Spans: the call, with one child span per attempt and the retry as a span event.
const finished = spans.getFinishedSpans();
const root = finished.find((span) => span.parentSpanContext === undefined);
for (const span of [root, ...finished.filter((s) => s !== root)]) {
  if (span === undefined) continue;
  const indent = span === root ? '' : '  ';
  const error = span.attributes['error.type'] ? ` error.type=${span.attributes['error.type']}` : '';
  const events = span.events.map((e) => e.name).join(',');
  console.log(
    `${indent}span "${span.name}" attempts=${span.attributes['ballast.attempts'] ?? '-'}${error}${events ? ` events=${events}` : ''}`,
  );
}

// Metrics: read them the way an exporter would.
await reader.forceFlush();
const metrics =
  metricExporter
    .getMetrics()
    .at(-1)
    ?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
for (const metric of metrics) {
  const total = metric.dataPoints.reduce(
    (sum, point) => sum + (typeof point.value === 'number' ? point.value : (point.value as { count: number }).count),
    0,
  );
  console.log(`metric ${metric.descriptor.name} (${metric.descriptor.unit}): ${metric.dataPoints.length} series, total ${total}`);
}

telemetry.shutdown();
await tracerProvider.shutdown();
await meterProvider.shutdown();
