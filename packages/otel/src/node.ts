/**
 * @packageDocumentation
 * `@ballast/otel/node`: OpenTelemetry for apps that have none set up. Starts the NodeSDK with a
 * Prometheus endpoint and/or OTLP export, then calls `instrument()`. The only Ballast entry point
 * that imports OpenTelemetry SDK packages.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BallastError } from '@ballast/core';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { metrics as sdkMetrics, tracing } from '@opentelemetry/sdk-node';
import { type Instrumentation, type InstrumentOptions, instrument, metricsAreNoop, tracingIsNoop } from './instrument.js';

/** The SDK packages `startTelemetry` runs on: optional peers of `@ballast/otel`, installed by the app. */
const SDK_PACKAGES = [
  '@opentelemetry/sdk-node',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/exporter-metrics-otlp-http',
] as const;

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** The install command for the SDK line that runs on this Node.js (3.x needs Node 22.15 or later). */
function installCommand(missing: readonly string[]): string {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const current = major > 22 || (major === 22 && minor >= 15);
  return `npm install ${missing.map((name) => (current ? name : `"${name}@<0.300"`)).join(' ')}`;
}

/*
 * The SDK is loaded when telemetry starts, not when this entry is imported or required: a missing
 * optional peer then fails as a typed error naming the packages and the command that installs
 * them, instead of a bare MODULE_NOT_FOUND from the module loader.
 */
async function loadSdk() {
  const loaded = await Promise.allSettled([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-prometheus'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/exporter-metrics-otlp-http'),
  ]);
  const missing = SDK_PACKAGES.filter((_, i) => {
    const result = loaded[i];
    return result?.status === 'rejected' && isModuleNotFound(result.reason);
  });
  if (missing.length > 0) {
    throw new BallastError(
      'CONFIG',
      `startTelemetry: the OpenTelemetry SDK is not installed (missing ${missing.join(', ')}). Install it with: ${installCommand(missing)}`,
      { details: { missing } },
    );
  }
  const failed = loaded.find((result) => result.status === 'rejected');
  if (failed !== undefined)
    throw new BallastError('CONFIG', 'startTelemetry: the OpenTelemetry SDK failed to load', { cause: failed.reason });
  const [sdkNode, prometheus, traceOtlp, metricsOtlp] = loaded.map((result) => (result as PromiseFulfilledResult<unknown>).value) as [
    typeof import('@opentelemetry/sdk-node'),
    typeof import('@opentelemetry/exporter-prometheus'),
    typeof import('@opentelemetry/exporter-trace-otlp-http'),
    typeof import('@opentelemetry/exporter-metrics-otlp-http'),
  ];
  return {
    NodeSDK: sdkNode.NodeSDK,
    sdkMetrics: sdkNode.metrics,
    tracing: sdkNode.tracing,
    PrometheusExporter: prometheus.PrometheusExporter,
    OTLPTraceExporter: traceOtlp.OTLPTraceExporter,
    OTLPMetricExporter: metricsOtlp.OTLPMetricExporter,
  };
}

/** Where Prometheus scrapes. */
export interface PrometheusOptions {
  /** Port of the metrics endpoint; `0` picks a free one (read it from `metricsUrl`). Default 9464. */
  port?: number;
  /** Interface to listen on. Default `0.0.0.0`. */
  host?: string;
  /** Path of the endpoint. Default `/metrics`. */
  endpoint?: string;
}

/** Where OTLP/HTTP data goes. */
export interface OtlpOptions {
  /** Base URL of the collector, as in `OTEL_EXPORTER_OTLP_ENDPOINT` (`http://collector:4318`); `/v1/traces` and `/v1/metrics` are appended. */
  url: string;
  /** Extra request headers (an API key). */
  headers?: Record<string, string>;
  /** Send traces. Default true. */
  traces?: boolean;
  /** Send metrics. Default true. */
  metrics?: boolean;
  /** How often metrics are pushed, ms. Default 60 000. */
  metricsIntervalMs?: number;
}

/** Options of {@link startTelemetry}. Give `prometheus`, `otlp`, or both. */
export interface StartTelemetryOptions {
  /** `service.name` of the resource. Default `OTEL_SERVICE_NAME`, else `ballast-app`. */
  serviceName?: string;
  /** Serve metrics for Prometheus to scrape. */
  prometheus?: PrometheusOptions;
  /** Export traces and metrics over OTLP/HTTP. */
  otlp?: OtlpOptions;
  /** Options passed to {@link instrument} (providers excepted: the SDK's are used). */
  instrument?: Omit<InstrumentOptions, 'tracerProvider' | 'meterProvider'>;
}

/** A running telemetry set-up. */
export interface Telemetry {
  /** The URL Prometheus scrapes (with the real port when `port: 0`), when `prometheus` was given. */
  readonly metricsUrl: string | undefined;
  /** The Ballast instrumentation started on the SDK. */
  readonly instrumentation: Instrumentation;
  /** Stops the instrumentation, flushes and shuts the SDK down, closes the metrics endpoint and unregisters the global providers. */
  shutdown(): Promise<void>;
}

function checkPort(port: unknown): number {
  if (port === undefined) return 9464;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new BallastError('CONFIG', `startTelemetry: prometheus.port must be an integer from 0 to 65535, got ${String(port)}`, {
      details: { path: 'prometheus.port' },
    });
  }
  return port as number;
}

function checkUrl(url: unknown): string {
  const text = String(url);
  const parsed = URL.canParse(text) ? new URL(text) : undefined;
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new BallastError('CONFIG', `startTelemetry: otlp.url must be an http(s) URL, got ${text}`, {
      details: { path: 'otlp.url' },
    });
  }
  return parsed.href.replace(/\/+$/, '');
}

/*
 * The Prometheus exporter can run its own server, but it hides the bound port (so `port: 0` is
 * unusable) and reports a busy port only in a log line. Serving its request handler from our own
 * server gives callers the real URL and a typed error.
 */
async function serveMetrics(exporter: PrometheusExporter, options: PrometheusOptions): Promise<{ server: Server; url: string }> {
  const port = checkPort(options.port);
  const host = options.host ?? '0.0.0.0';
  const endpoint = options.endpoint ?? '/metrics';
  if (!endpoint.startsWith('/')) {
    throw new BallastError('CONFIG', `startTelemetry: prometheus.endpoint must start with "/", got ${endpoint}`, {
      details: { path: 'prometheus.endpoint' },
    });
  }
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'GET' && path === endpoint) {
      exporter.getMetricsRequestHandler(request, response);
      return;
    }
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new BallastError('CONFIG', `startTelemetry: cannot serve metrics on ${host}:${port}: ${error.message}`, { cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}${endpoint}` };
}

/**
 * Starts OpenTelemetry for an app that has none: the NodeSDK (context manager, W3C propagation,
 * resource with `service.name`), a Prometheus endpoint and/or OTLP/HTTP export, and Ballast's
 * {@link instrument} on top. Apps that already run an SDK call `instrument()` instead.
 *
 * @example
 * import { startTelemetry } from '@ballast/otel/node';
 * const telemetry = await startTelemetry({ serviceName: 'scoring-api', prometheus: { port: 9464 } });
 * // ... serve traffic; Prometheus scrapes http://host:9464/metrics
 * await telemetry.shutdown();
 */
export async function startTelemetry(options: StartTelemetryOptions): Promise<Telemetry> {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'startTelemetry: options must be an object');
  const { prometheus, otlp } = options;
  if (prometheus === undefined && otlp === undefined) {
    throw new BallastError('CONFIG', 'startTelemetry: give "prometheus", "otlp" or both', { details: { path: 'prometheus' } });
  }
  if (!tracingIsNoop(trace.getTracerProvider()) || !metricsAreNoop(metrics.getMeterProvider())) {
    // A second SDK could not register its providers; the app would get an endpoint serving nothing.
    throw new BallastError('CONFIG', 'startTelemetry: OpenTelemetry is already set up in this process; call instrument() instead');
  }
  const loaded = await loadSdk();
  const { NodeSDK, PrometheusExporter, OTLPTraceExporter, OTLPMetricExporter } = loaded;
  const serviceName = options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'ballast-app';
  const metricReaders: sdkMetrics.IMetricReader[] = [];
  const spanProcessors: tracing.SpanProcessor[] = [];
  let exporter: PrometheusExporter | undefined;
  if (prometheus !== undefined) {
    exporter = new PrometheusExporter({ preventServerStart: true });
    metricReaders.push(exporter);
  }
  if (otlp !== undefined) {
    const base = checkUrl(otlp.url);
    const interval = otlp.metricsIntervalMs ?? 60_000;
    if (!(Number.isInteger(interval) && interval > 0)) {
      throw new BallastError('CONFIG', `startTelemetry: otlp.metricsIntervalMs must be a positive integer, got ${interval}`, {
        details: { path: 'otlp.metricsIntervalMs' },
      });
    }
    const headers = otlp.headers ?? {};
    if (otlp.traces !== false) {
      spanProcessors.push(new loaded.tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces`, headers })));
    }
    if (otlp.metrics !== false) {
      metricReaders.push(
        new loaded.sdkMetrics.PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers }),
          exportIntervalMillis: interval,
          exportTimeoutMillis: Math.min(30_000, interval),
        }),
      );
    }
  }

  let served: { server: Server; url: string } | undefined;
  if (exporter !== undefined && prometheus !== undefined) served = await serveMetrics(exporter, prometheus);
  // Explicit empty lists stop the NodeSDK from adding exporters of its own from the environment.
  const sdk = new NodeSDK({ serviceName, metricReaders, spanProcessors, logRecordProcessors: [], instrumentations: [] });
  try {
    sdk.start();
  } catch (error) {
    served?.server.close();
    throw new BallastError('CONFIG', 'startTelemetry: the OpenTelemetry SDK failed to start', { cause: error });
  }
  const instrumentation = instrument(options.instrument ?? {});
  let closing: Promise<void> | undefined;
  return {
    metricsUrl: served?.url,
    instrumentation,
    shutdown() {
      closing ??= (async () => {
        instrumentation.shutdown();
        try {
          await sdk.shutdown();
        } finally {
          if (served !== undefined) {
            const { server } = served;
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
          }
          // The SDK leaves its globals registered; clearing them lets a later start register anew.
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
        }
      })();
      return closing;
    },
  };
}

export type { Instrumentation, InstrumentOptions } from './instrument.js';
