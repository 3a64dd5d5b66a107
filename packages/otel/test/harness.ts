import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { type Instrumentation, type InstrumentOptions, instrument } from '../src/instrument.js';

/** A tracer and a meter provider that keep everything in memory, for assertions. */
export interface Harness {
  readonly spans: InMemorySpanExporter;
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** Collects the metrics now and returns them by name. */
  collect(): Promise<Map<string, MetricData>>;
  /** Finished spans by name. */
  span(name: string): ReadableSpan;
  shutdown(): Promise<void>;
}

export function createHarness(): Harness {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    spans,
    tracerProvider,
    meterProvider,
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      const byName = new Map<string, MetricData>();
      for (const resource of exporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      }
      return byName;
    },
    span(name: string) {
      const found = spans.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named "${name}", found ${found.length}`);
      return found[0] as ReadableSpan;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The data points of a metric whose attributes include `match`. */
export function points<T = unknown>(metric: MetricData | undefined, match: Record<string, unknown> = {}): DataPoint<T>[] {
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<T>[]).filter((point) =>
    Object.entries(match).every(([key, value]) => point.attributes[key] === value),
  );
}

/** Registers an AsyncLocalStorage context manager globally (what the NodeSDK does); returns the undo. */
export function registerContextManager(): () => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return () => context.disable();
}

/** A harness per test and `instrument()` on it, from {@link useTelemetry}. */
export interface TelemetryFixture {
  /** The current test's harness. */
  readonly harness: Harness;
  /** Instruments on the current harness; shut down after the test. */
  start(options?: InstrumentOptions): Instrumentation;
}

/**
 * Gives every test of the file a fresh harness and shuts down what `start()` instrumented after
 * it (and puts real timers back); registers a global context manager for the file, as the NodeSDK
 * does.
 */
export function useTelemetry(): TelemetryFixture {
  let harness: Harness | undefined;
  let telemetry: Instrumentation | undefined;
  let unregister: () => void = () => {};
  beforeAll(() => {
    unregister = registerContextManager();
  });
  afterAll(() => unregister());
  beforeEach(() => {
    harness = createHarness();
  });
  afterEach(async () => {
    telemetry?.shutdown();
    telemetry = undefined;
    vi.useRealTimers();
    await harness?.shutdown();
  });
  return {
    get harness() {
      if (harness === undefined) throw new Error('useTelemetry(): the harness exists inside tests only');
      return harness;
    },
    start(options = {}) {
      telemetry = instrument({ tracerProvider: this.harness.tracerProvider, meterProvider: this.harness.meterProvider, ...options });
      return telemetry;
    },
  };
}
