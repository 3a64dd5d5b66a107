/**
 * `pnpm demo`: the weather service end to end.
 *
 * 1. Starts a remote copy of the model in a second process (Open Inference Protocol v2).
 * 2. Starts the weather service: Express + Ballast router + API key, a resilient client calling
 *    the remote model with the in-process ONNX model (batching, a worker thread) as fallback,
 *    drift monitoring against the 2012–2013 reference, Prometheus metrics.
 * 3. Calibration: replays days drawn from the reference period (a control window: no drift expected).
 * 4. Replays 2014–2015 day by day from several stations; midway the remote model first errors,
 *    then hangs, then recovers: the breaker opens, the fallback serves, the breaker closes again.
 * 5. Scale-out: two replica processes of the service share one Redis (result cache, a global rate
 *    limit, API keys) behind a round-robin proxy; skipped with a message when redis-server is not
 *    installed (CI installs it, and the summary check fails there without it).
 * 6. Prints a summary; writes a JSON summary and an HTML drift report per drifted window (linked from it).
 *
 *   pnpm demo [--quick] [--out <dir>]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { seededRandom, subscribe } from '@ballast/core';
import { type DriftResult, renderDriftReport } from '@ballast/drift';
import { startTelemetry } from '@ballast/otel/node';
import { byYears, CLASSES, loadWeather, type WeatherDay } from './data.js';
import { runScaleOut } from './scale-out.js';
import { startWeatherService } from './service.js';
import { type RequestOutcome, replay } from './traffic.js';

const quick = process.argv.includes('--quick');
const outIndex = process.argv.indexOf('--out');
const outDir = resolve(outIndex > 0 ? (process.argv[outIndex + 1] as string) : join(import.meta.dirname, '..', 'out'));
const settings = quick
  ? { stations: 4, rate: 260, calibrationDays: 90, driftWindow: 90, scaleOutInputs: 30, scaleOutBurst: 200 }
  : { stations: 8, rate: 170, calibrationDays: 120, driftWindow: 90, scaleOutInputs: 100, scaleOutBurst: 400 };
const tty = process.stdout.isTTY === true;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

async function startRemoteProcess(): Promise<{ child: ChildProcess; url: string }> {
  const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, ['--conditions=source', join(import.meta.dirname, 'remote-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('the remote model server did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the remote model server exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolvePort((JSON.parse(line) as { port: number }).port);
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function setFault(remoteUrl: string, mode: 'none' | 'error' | 'hang') {
  const response = await fetch(`${remoteUrl}/admin/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode }),
  });
  if (!response.ok) throw new Error(`could not set the fault mode: HTTP ${response.status}`);
}

// ---- live state ---------------------------------------------------------------------------
const outcomes: RequestOutcome[] = [];
const recent: { at: number; latency: number }[] = [];
let batches = 0;
let batchRows = 0;
let breakerOpened = 0;
let breakerClosed = 0;
let breakerState = 'closed';
const breakerLog: { at: string; seconds: number; from: string; to: string; reason: string; phase: string }[] = [];
let fallbackServed = 0;
const fallbackByPhase: Record<string, number> = {};
let phase = 'starting';
let progress = 0;
let total = 1;
const driftWindows: { result: DriftResult; phase: string; around: string }[] = [];
let currentDay = '';

function print(line: string) {
  if (tty) process.stdout.write(`\r\x1b[2K${line}\n`);
  else console.log(line);
}

function liveLine(client: { stats(): unknown }): string {
  const now = performance.now();
  while (recent.length > 0 && (recent[0] as { at: number }).at < now - 2_000) recent.shift();
  const rps = recent.length / 2;
  const latencies = recent.map((r) => r.latency);
  const stats = client.stats() as { cache?: { hits?: number; misses?: number; stale?: number; coalesced?: number } };
  const hits = (stats.cache?.hits ?? 0) + (stats.cache?.coalesced ?? 0) + (stats.cache?.stale ?? 0);
  const lookups = hits + (stats.cache?.misses ?? 0);
  const width = 24;
  const filled = Math.round((progress / total) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const alerts = driftWindows.filter((w) => w.result.driftedFeatures.length > 0).length;
  return (
    `[${bar}] ${String(Math.round((progress / total) * 100)).padStart(3)}% ${phase.padEnd(11)} ${currentDay} ` +
    `${rps.toFixed(0).padStart(4)} req/s  p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  ` +
    `batch ${batches === 0 ? '-' : (batchRows / batches).toFixed(1)}  cache ${((hits / Math.max(1, lookups)) * 100).toFixed(0)}%  ` +
    `breaker ${breakerState}  fallbacks ${fallbackServed}  drift alerts ${alerts}`
  );
}

// ---- main ---------------------------------------------------------------------------------
const startedAt = performance.now();
console.log(`Ballast weather demo${quick ? ' (quick)' : ''}: Seattle weather 2012–2015, vega-datasets\n`);
const telemetry = await startTelemetry({ serviceName: 'weather-service', prometheus: { port: 0 } });
const remote = await startRemoteProcess();
console.log(`remote model (Open Inference Protocol v2)   ${remote.url}   (process ${remote.child.pid})`);

const random = seededRandom(7);
const service = await startWeatherService({
  remoteUrl: remote.url,
  driftWindow: settings.driftWindow,
  onDrift: (result) => {
    driftWindows.push({ result, phase, around: currentDay });
    if (result.driftedFeatures.length > 0) {
      print(
        `  drift alert (${phase}, window ending near ${currentDay}): ${result.driftedFeatures.join(', ')} ` +
          `(${result.features
            .filter((f) => f.drifted)
            .map((f) => `${f.feature} ${f.test} p=${(f.pValue ?? f.statistic).toExponential(1)}`)
            .join('; ')})`,
      );
    }
  },
});
console.log(`weather service (Express + Ballast router)  ${service.url}   local fallback on ${service.local.provider}`);
console.log(`Prometheus metrics                          ${telemetry.metricsUrl}\n`);

const stops = [
  subscribe('batch', (e) => {
    if (e.phase === 'complete') {
      batches++;
      batchRows += e.size;
    }
  }),
  subscribe('breaker', (e) => {
    breakerState = e.to;
    if (e.to === 'open') breakerOpened++;
    if (e.to === 'closed' && e.from !== 'closed') breakerClosed++;
    const seconds = Number(((performance.now() - startedAt) / 1000).toFixed(2));
    breakerLog.push({ at: currentDay, seconds, from: e.from, to: e.to, reason: e.reason, phase });
    print(`  breaker ${e.from} -> ${e.to} (${e.reason}) at ${currentDay}, ${seconds} s`);
  }),
  subscribe('fallback', (e) => {
    if (e.served) {
      fallbackServed++;
      fallbackByPhase[phase] = (fallbackByPhase[phase] ?? 0) + 1;
    }
  }),
];

const days = loadWeather();
const reference = byYears(days, 2012, 2013);
const shuffled = [...reference];
for (let i = shuffled.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [shuffled[i], shuffled[j]] = [shuffled[j] as WeatherDay, shuffled[i] as WeatherDay];
}
const calibration = shuffled.slice(0, settings.calibrationDays);
const replayDays = byYears(days, 2014, 2015);
total = (calibration.length + replayDays.length) * settings.stations;
const ticker = setInterval(() => {
  if (tty) process.stdout.write(`\r\x1b[2K${liveLine(service.client)}`);
}, 200);
const slowTicker = tty ? undefined : setInterval(() => console.log(liveLine(service.client)), 2_000);

const record = (outcome: RequestOutcome) => {
  outcomes.push(outcome);
  recent.push({ at: performance.now(), latency: outcome.latencyMs });
  progress++;
};

// Phase 1: a control window drawn from the reference period itself.
phase = 'control';
await replay({
  url: service.url,
  apiKey: service.apiKey,
  days: calibration,
  stations: settings.stations,
  repeatShare: 0.1,
  rate: settings.rate,
  concurrency: 32,
  phase,
  seed: 11,
  onOutcome: record,
  onDay: (i) => (currentDay = `ref#${i}`),
});
service.flushDrift();
// The control window closes by itself after driftWindow rows; flush() evaluates any rest.
service.monitor.flush();
const control = driftWindows.filter((w) => w.phase === 'control').at(-1)?.result;
print(
  `  control window (${control?.windowRows ?? 0} rows drawn from 2012–2013): ${control && control.driftedFeatures.length > 0 ? `drift on ${control.driftedFeatures.join(', ')}` : 'no drift'}`,
);

// Phase 2: 2014–2015 in date order, with a fault in the middle.
// About a sixth of the replay each: errors, then hangs, then a long enough recovery for the
// breaker's trial calls to find the remote model healthy again.
const faultStart = Math.floor(replayDays.length * 0.4);
const hangStart = Math.floor(replayDays.length * 0.56);
const faultEnd = Math.floor(replayDays.length * 0.72);
phase = 'replay';
await replay({
  url: service.url,
  apiKey: service.apiKey,
  days: replayDays,
  stations: settings.stations,
  repeatShare: 0.1,
  rate: settings.rate,
  concurrency: 32,
  phase: 'replay',
  seed: 12,
  onOutcome: record,
  onDay: (i) => {
    currentDay = (replayDays[i] as WeatherDay).date;
    if (i === faultStart) {
      phase = 'fault:error';
      print(`  fault injected at ${currentDay}: the remote model answers 503`);
      void setFault(remote.url, 'error');
    } else if (i === hangStart) {
      phase = 'fault:hang';
      print(`  fault changed at ${currentDay}: the remote model hangs`);
      void setFault(remote.url, 'hang');
    } else if (i === faultEnd) {
      phase = 'recovery';
      print(`  fault cleared at ${currentDay}: the remote model is back`);
      void setFault(remote.url, 'none');
    }
  },
});
service.flushDrift();
service.monitor.flush();
clearInterval(ticker);
if (slowTicker) clearInterval(slowTicker);
if (tty) process.stdout.write(`\r\x1b[2K${liveLine(service.client)}\n`);

// Phase 3: two replicas sharing Redis behind a round-robin proxy.
phase = 'scale-out';
const scaleOut = await runScaleOut({
  remoteUrl: remote.url,
  days: replayDays,
  inputs: settings.scaleOutInputs,
  burst: settings.scaleOutBurst,
  print,
});
if (!scaleOut.ran) print(`  scale-out skipped, the demo ran as one replica: ${scaleOut.reason}`);
phase = 'done';

// ---- results ------------------------------------------------------------------------------
const metricsText = await (await fetch(telemetry.metricsUrl as string)).text();
const ballastSeries = [
  ...new Set(
    metricsText
      .split('\n')
      .filter((l) => l.startsWith('ballast_'))
      .map((l) => l.split(/[{ ]/)[0] as string),
  ),
].sort();
const stats = service.client.stats();
const settled = outcomes.length;
const ok = outcomes.filter((o) => o.status === 200);
const statusCounts: Record<string, number> = {};
for (const o of outcomes)
  statusCounts[o.status === 200 ? '200' : `${o.status} ${o.code ?? ''}`.trim()] =
    (statusCounts[`${o.status === 200 ? '200' : `${o.status} ${o.code ?? ''}`.trim()}`] ?? 0) + 1;
const replayWindows = driftWindows.filter((w) => w.phase !== 'control');
const driftedWindows = replayWindows.filter((w) => w.result.driftedFeatures.length > 0);
// One HTML (and JSON) report per drifted window, linked from the summary by a path relative to it.
const reportFor = (index: number): string => `drift-reports/window-${String(index + 1).padStart(2, '0')}.html`;
const latencies = outcomes.map((o) => o.latencyMs);
const accuracyDays = ok.length;
const summary = {
  quick,
  durationSeconds: Number(((performance.now() - startedAt) / 1000).toFixed(1)),
  requests: { sent: total, settled, ok: ok.length, byStatus: statusCounts },
  latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) },
  batching: { batches, meanBatchSize: Number((batchRows / Math.max(1, batches)).toFixed(2)) },
  breaker: { opened: breakerOpened, closed: breakerClosed, finalState: breakerState, transitions: breakerLog },
  fallback: { served: fallbackServed, byPhase: fallbackByPhase },
  client: stats,
  drift: {
    control: control ? { rows: control.windowRows, driftedFeatures: control.driftedFeatures } : null,
    windows: replayWindows.map((w, i) => ({
      phase: w.phase,
      endingNear: w.around,
      rows: w.result.windowRows,
      driftedFeatures: w.result.driftedFeatures,
      ...(w.result.driftedFeatures.length > 0 ? { report: reportFor(i) } : {}),
    })),
    driftedWindows: driftedWindows.length,
  },
  prometheus: { url: telemetry.metricsUrl, ballastSeries },
  scaleOut,
  predictions: accuracyDays,
  classes: CLASSES,
};

mkdirSync(outDir, { recursive: true });
const summaryPath = join(outDir, 'summary.json');
const reportsDir = join(outDir, 'drift-reports');
rmSync(reportsDir, { recursive: true, force: true });
mkdirSync(reportsDir, { recursive: true });
writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
replayWindows.forEach((w, i) => {
  if (w.result.driftedFeatures.length === 0) return;
  const report = renderDriftReport(w.result, {
    title: 'Weather inputs: drift against 2012–2013',
    subtitle: `Window ${i + 1} of ${replayWindows.length}, ending near ${w.around} (${w.result.windowRows} sampled requests), Seattle weather, vega-datasets`,
  });
  const file = join(outDir, reportFor(i));
  writeFileSync(file, report.html);
  writeFileSync(file.replace(/\.html$/, '.json'), `${JSON.stringify(report.json, null, 2)}\n`);
});

const rows: [string, string][] = [
  ['requests settled', `${settled} / ${total} (${ok.length} answered 200)`],
  [
    'status codes',
    Object.entries(statusCounts)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', '),
  ],
  [
    'latency p50 / p95 / p99',
    `${summary.latencyMs.p50.toFixed(1)} / ${summary.latencyMs.p95.toFixed(1)} / ${summary.latencyMs.p99.toFixed(1)} ms`,
  ],
  ['local model batches', `${batches} (mean size ${summary.batching.meanBatchSize})`],
  ['breaker', `opened ${breakerOpened}x, closed again ${breakerClosed}x, now ${breakerState}`],
  [
    'fallback (local ONNX) served',
    `${fallbackServed} (${Object.entries(fallbackByPhase)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')})`,
  ],
  ['drift: control window', control && control.driftedFeatures.length > 0 ? `DRIFT on ${control.driftedFeatures.join(', ')}` : 'no drift'],
  [
    'drift: 2014–2015 windows',
    `${driftedWindows.length} of ${replayWindows.length} drifted (${[...new Set(driftedWindows.flatMap((w) => w.result.driftedFeatures))].join(', ')})`,
  ],
  [
    'scale-out (2 replicas, Redis)',
    scaleOut.ran
      ? `${scaleOut.cache.sharedHits}/${scaleOut.cache.inputs} shared cache hits, ${scaleOut.rateLimit.admitted} admitted of ${scaleOut.rateLimit.sent} ` +
        `(one limit: ${scaleOut.rateLimit.allowance.toFixed(0)}), revoked key refused by ${Object.entries(scaleOut.keys.firstAfter)
          .filter(([, a]) => a.status === 401)
          .map(([name]) => name)
          .join(' and ')}`
      : `skipped (${scaleOut.reason})`,
  ],
  ['Prometheus series', `${ballastSeries.length} ballast_* series at ${telemetry.metricsUrl}`],
  ['duration', `${summary.durationSeconds} s`],
];
console.log('\nSummary');
for (const [k, v] of rows) console.log(`  ${k.padEnd(30)} ${v}`);
console.log(`\nJSON summary   ${summaryPath}`);
if (driftedWindows.length > 0) console.log(`drift reports  ${reportsDir} (${driftedWindows.length}, one per drifted window)`);

for (const stop of stops) stop();
await service.close();
remote.child.kill('SIGTERM');
await telemetry.shutdown();
