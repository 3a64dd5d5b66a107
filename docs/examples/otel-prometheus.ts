// docs/examples/otel-prometheus.ts
import { batching, defineModel, pipeline } from '@ballast/core';
import { startTelemetry } from '@ballast/otel/node';

// For an app with no OpenTelemetry set-up: the NodeSDK, a Prometheus endpoint and instrument().
// Port 0 picks a free port; production uses a fixed one (default 9464).
const telemetry = await startTelemetry({ serviceName: 'scoring-api', prometheus: { port: 0, host: '127.0.0.1' } });

const model = pipeline(
  defineModel({
    name: 'scorer',
    version: '1.0.0',
    infer: async (row: number[]) => row[0] ?? 0,
    inferBatch: async (rows: readonly number[][]) => rows.map((row) => row[0] ?? 0),
  }),
  batching({ maxBatchSize: 16 }),
);
await Promise.all(Array.from({ length: 50 }, (_, i) => model.infer([i])));

// What Prometheus scrapes.
const text = await (await fetch(telemetry.metricsUrl as string)).text();
const wanted = /^(ballast_inference_duration_seconds_count|ballast_batch_size_sum|ballast_batch_size_count)\{/;
for (const line of text.split('\n')) {
  if (wanted.test(line)) console.log(line.replace(/,otel_scope_name="[^"]*",otel_scope_version="[^"]*"/, ''));
}
await telemetry.shutdown();
