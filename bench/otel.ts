/**
 * What @ballast/otel costs per call.
 *
 *   not instrumented     no instrument() call: the baseline
 *   instrument(), no SDK instrument() with the API's no-op providers (an app without OpenTelemetry)
 *   ballast:infer traced a no-op subscriber on the tracing channel: the share of core's traced path
 *   instrument() + SDK   a real tracer and meter provider, spans kept in an in-memory exporter
 *
 * measured on two workloads: a client (createClient with retry, breaker, bulkhead and a timeout)
 * over an in-process model, and a bare pipeline() model. Each instrumented variant is paired with
 * the baseline round by round (alternating which runs first) and the median of the paired ratios
 * is printed. Spans go through a BatchSpanProcessor (as under the NodeSDK) into an
 * InMemorySpanExporter.
 *
 *   pnpm bench otel            full run
 *   pnpm bench otel --smoke    a few iterations
 */
import { createClient } from '@ballast/client';
import { channels, defineModel, type Model, pipeline } from '@ballast/core';
import { instrument } from '@ballast/otel';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { nsPerCall, size, smoke, table } from './_harness.js';

// Each measurement lasts about `sliceMs` (calls are counted per variant from a first timing), longer
// than the scheduler's slices on a busy machine.
const sliceMs = size(40, 2);
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

type Variant = 'not instrumented' | 'instrument(), no SDK' | 'ballast:infer traced, no-op' | 'instrument() + SDK';
const noop = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
const variants: Record<Variant, () => () => void> = {
  'not instrumented': () => () => {},
  'instrument(), no SDK': () => {
    const handle = instrument();
    if (handle.enabled.traces || handle.enabled.metrics) throw new Error('expected no SDK to be registered');
    return () => handle.shutdown();
  },
  // What any subscriber to the tracing channel costs before it does anything: core's traced call path.
  'ballast:infer traced, no-op': () => {
    channels.infer.subscribe(noop);
    return () => channels.infer.unsubscribe(noop);
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
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};
// Calls per measurement, from a warm timing. The baseline and the no-SDK variant run the same
// count: per-call cost depends a little on the count (the deadline wheel holds every call's entry
// until its slot passes), so a fair pair needs equal counts.
const counts = new Map<string, number>();
const countFor = async (key: string, call: () => Promise<unknown>) => {
  let count = counts.get(key);
  if (count === undefined) {
    await nsPerCall(call, 5_000, 1);
    count = Math.max(100, Math.min(1_000_000, Math.round((sliceMs * 1e6) / (await nsPerCall(call, 5_000, 1)))));
    counts.set(key, count);
  }
  return count;
};
const measure = async (variant: Variant, call: () => Promise<unknown>, workload: string) => {
  const stop = variants[variant]();
  const count = await countFor(variant === 'instrument() + SDK' ? `${workload}/sdk` : workload, call);
  const ns = await nsPerCall(call, count, 1);
  stop();
  return ns;
};

const results: { workload: string; variant: Variant; ns: number; ratio: number }[] = [];
for (const [workload, target] of Object.entries(workloads)) {
  const call = () => target.infer(x++ & 1023);
  const baseline: number[] = [];
  const rows: typeof results = [];
  // Each variant is paired with the baseline in a phase of its own, in alternating order, so the
  // SDK variant's garbage never lands in the no-SDK comparison.
  for (const variant of ['instrument(), no SDK', 'ballast:infer traced, no-op', 'instrument() + SDK'] as const) {
    const times: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const first = round % 2 === 0 ? 'not instrumented' : variant;
      const a = await measure(first, call, workload);
      const b = await measure(first === variant ? 'not instrumented' : variant, call, workload);
      const [base, ns] = first === variant ? [b, a] : [a, b];
      baseline.push(base);
      times.push(ns);
      ratios.push(ns / base);
    }
    rows.push({ workload, variant, ns: Math.min(...times), ratio: median(ratios) });
  }
  results.push({ workload, variant: 'not instrumented', ns: Math.min(...baseline), ratio: 1 }, ...rows);
}

console.log(
  `@ballast/otel overhead per sequential call (${rounds} paired rounds of about ${sliceMs} ms per variant)${smoke ? ' [smoke]' : ''}\n`,
);
table(
  ['workload', 'variant', 'best us/call', 'calls/s', 'median paired ratio'],
  results.map(({ workload, variant, ns, ratio }) => [workload, variant, ns / 1000, 1e9 / ns, `${ratio.toFixed(3)}x`]),
);
if (smoke) console.log('\nsmoke run: too few rounds for the ratios to mean anything; run without --smoke to measure.');
else
  for (const { workload, ratio } of results.filter((r) => r.variant === 'instrument(), no SDK')) {
    console.log(`\n${workload}: instrument() with no SDK costs ${((ratio - 1) * 100).toFixed(1)}% (goal: within 5%)`);
  }
await tracerProvider.shutdown();
await meterProvider.shutdown();
