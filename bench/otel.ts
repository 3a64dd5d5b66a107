/**
 * What @ballast/otel costs per call.
 *
 *   not instrumented     no instrument() call: the baseline
 *   instrument(), no SDK instrument() with the API's no-op providers (an app without OpenTelemetry)
 *   instrument() + SDK   a real tracer and meter provider, spans kept in an in-memory exporter
 *
 * measured on two workloads: a client (createClient with retry, breaker, bulkhead and a timeout)
 * over an in-process model, and a bare pipeline() model. Variants are interleaved round by round and
 * the best round of each is kept, so drift on a shared machine hits them alike. Spans go through
 * a BatchSpanProcessor (as under the NodeSDK) into an InMemorySpanExporter.
 *
 *   pnpm bench otel            full run
 *   pnpm bench otel --smoke    a few iterations
 */
import { createClient } from '@ballast/client';
import { defineModel, type Model, pipeline } from '@ballast/core';
import { instrument } from '@ballast/otel';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { nsPerCall, size, smoke, table } from './_harness.js';

// Many short rounds, best kept: on a busy machine the minimum is the measure least hit by other load.
const iterations = size(5_000, 300);
const rounds = size(21, 2);

const model = defineModel({ name: 'scorer', infer: async (x: number) => x * 2 });
const workloads: Record<string, Model<number, number>> = {
  client: createClient({
    model,
    timeoutMs: 1_000,
    retry: { maxAttempts: 3, budget: false },
    breaker: { consecutiveFailures: 5 },
    bulkhead: { maxConcurrent: 64 },
  }),
  'pipeline()': pipeline(model),
};

const spans = new InMemorySpanExporter();
// The batch processor is what production set-ups use (the NodeSDK does); spans end in memory.
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans, { maxQueueSize: 100_000 })] });
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });

type Variant = 'not instrumented' | 'instrument(), no SDK' | 'instrument() + SDK';
const variants: Record<Variant, () => () => void> = {
  'not instrumented': () => () => {},
  'instrument(), no SDK': () => {
    const handle = instrument();
    if (handle.enabled.traces || handle.enabled.metrics) throw new Error('expected no SDK to be registered');
    return () => handle.shutdown();
  },
  'instrument() + SDK': () => {
    const handle = instrument({ tracerProvider, meterProvider });
    return () => {
      handle.shutdown();
      spans.reset(); // keep memory flat between rounds
    };
  },
};

let x = 0;
const results: { workload: string; variant: Variant; ns: number }[] = [];
for (const [workload, target] of Object.entries(workloads)) {
  const call = () => target.infer(x++ & 1023);
  const best = new Map<Variant, number>();
  const names = Object.keys(variants) as Variant[];
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs right after another's garbage.
    for (let k = 0; k < names.length; k++) {
      const variant = names[(round + k) % names.length] as Variant;
      const stop = variants[variant]();
      const ns = await nsPerCall(call, iterations, 1);
      stop();
      best.set(variant, Math.min(best.get(variant) ?? Number.POSITIVE_INFINITY, ns));
    }
  }
  for (const [variant, ns] of best) results.push({ workload, variant, ns });
}

console.log(
  `@ballast/otel overhead per sequential call (${iterations} calls x ${rounds} interleaved rounds, best round)${smoke ? ' [smoke]' : ''}\n`,
);
const rows = results.map(({ workload, variant, ns }) => {
  const baseline = results.find((r) => r.workload === workload && r.variant === 'not instrumented')?.ns ?? ns;
  return [workload, variant, ns / 1000, 1e9 / ns, `${(ns / baseline).toFixed(3)}x`];
});
table(['workload', 'variant', 'us/call', 'calls/s', 'vs not instrumented'], rows);
const noSdk = results.filter((r) => r.variant === 'instrument(), no SDK');
for (const { workload, ns } of noSdk) {
  const baseline = results.find((r) => r.workload === workload && r.variant === 'not instrumented')?.ns ?? ns;
  const overhead = (ns / baseline - 1) * 100;
  console.log(`\n${workload}: instrument() with no SDK costs ${overhead.toFixed(1)}% (goal: within 5%)`);
}
await tracerProvider.shutdown();
await meterProvider.shutdown();
